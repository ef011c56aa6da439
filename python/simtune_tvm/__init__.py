"""simtune as a TVM MetaSchedule runner (apache-tvm 0.27, tvm.s_tir.meta_schedule).

    from simtune_tvm import SimtuneRunner, local_builder, tvm_target
    runner = SimtuneRunner("riscv64-linux", "gemm:M=128,N=128,K=128")
    db = ms.tune_tir(prim_func, tvm_target("riscv64-linux"), work_dir, 64, runner=runner,
                     builder=local_builder())

Each candidate is linked with a verifying harness for the simtune target, simulated by
`simtune estimate`, and scored with simtune's predictor; see runner.py.
"""

from .harness import Buffer, gemm_reference, generate_harness
from .runner import (SimtuneRunner, find_simtune, load_simtune_target, local_builder,
                     tvm_target)

__all__ = ["Buffer", "SimtuneRunner", "find_simtune", "gemm_reference", "generate_harness",
           "load_simtune_target", "local_builder", "tvm_target"]
