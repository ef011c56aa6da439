"""simtune as a TVM MetaSchedule runner (apache-tvm 0.27, tvm.s_tir.meta_schedule).

    from simtune_tvm import SimtuneRunner, local_builder, tvm_target
    runner = SimtuneRunner("riscv64-linux", "gemm:M=128,N=128,K=128")
    db = ms.tune_tir(prim_func, tvm_target("riscv64-linux"), work_dir, 64, runner=runner,
                     builder=local_builder())

Each candidate is linked with a verifying harness for the simtune target, simulated by
`simtune estimate`, and scored with simtune's predictor (calibrate=k: and the k best of each
batch timed on the target's reference); see runner.py. workloads.py gives simtune's operators
as PrimFuncs with their C references; dataset.py fills a simtune store with MetaSchedule's
schedules (`make tvm-dataset`).
"""

from .harness import Buffer, generate_harness
from .runner import (SimtuneRunner, find_simtune, find_tvm_model, load_simtune_target,
                     local_builder, tvm_target)
from .workloads import gemm_reference, prim_func, reference_c

__all__ = ["Buffer", "SimtuneRunner", "find_simtune", "find_tvm_model", "gemm_reference",
           "generate_harness", "load_simtune_target", "local_builder", "prim_func",
           "reference_c", "tvm_target"]
