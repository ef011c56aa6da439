#!/usr/bin/env python3
"""Runs one simtune riscv64 bare-metal artifact on an rvsim cycle-level model and prints one
JSON object on stdout. Driven by the C++ "rvsim" reference (src/reference/rvsim.cc), one
candidate per process; the only Python on that path.

    simtune_rvsim_driver.py --model p550 [--verify on|off] [--stop-after-checksum]
                            [--max-cycles N] ARTIFACT.elf
    simtune_rvsim_driver.py --list-models

What it does (checked against rvsim 2.1.0):
  - Loads the ELF at its segments' physical addresses. rvsim 2.1 loads PT_LOAD segments at
    p_vaddr, but picolibc's crt0 copies initialised data from its load address (p_paddr, in
    the 0x80000000 "flash" region) to its run address, so loading at p_vaddr leaves the
    source zero and crt0 then zeroes .data (stdout's FILE among it). Spike and QEMU load at
    p_paddr; so does this driver, by giving rvsim a copy whose PT_LOAD p_vaddr = p_paddr.
  - Runs it with the console captured (the harness prints on the 16550 UART at 0x10000000;
    rvsim ends the run on any HTIF tohost write, which the harness uses for exit only).
  - Brackets the ROI with rvsim stops in the harness's ROI functions: the stats snapshot at
    the first cycle boundary where the next instruction to retire lies inside
    simtune_roi_begin, and the one where it lies inside simtune_roi_end; their difference is
    the ROI (the kernel call, give or take a few instructions of those two functions: the
    scope the Spike simulator uses for its cache counters). rvsim checks a pc stop once per
    cycle, after a whole retire group, so a stop at a function's first address alone is
    missed whenever the call and that instruction retire in the same cycle (they do on the
    P550 model); a stop anywhere in the 10-instruction body cannot be jumped over by a core
    that retires fewer than 10 a cycle. Stops do not perturb the model (a run with and
    without them takes the same cycles), and the ELF needs no rvsim-only device: the
    sim-control device at 0x102000 would fault on Spike, which runs the same ELF.
  - With --verify on (default), runs on to the end and checks the harness's verify line and
    exit code; with off, stops at the end of the ROI (about half the simulated work). With
    --stop-after-checksum (and verify on), stops where the harness calls simtune_sim_done,
    right after its output checksum line, and reports that line ("checksum_line", verify
    "checksum"): the caller compares it with the checksums recorded when the artifact was
    verified, so the -O1 reference and the element-wise check (often more cycles than the
    kernel) are not cycle-simulated again. Without the symbol it runs to the end as with on.

Output (one line): {"status": "ok"|"failed", "stage": ..., "message": ..., "model": ...,
"rvsim_version": ..., "roi": {"cycles", "instructions", "ipc", "mcycle", "minstret",
"stats": {path: value, ... non-zero model statistics over the ROI}}, "total": {"cycles",
"instructions"}, "exit_code", "verify", "checksum_line", "host_s", "host_cpu_s", "sim_insns_per_s",
"sim_insns_per_cpu_s", "console_tail"} (speeds count every simulated instruction, set-up and
verification included, over the whole process: import, load, run).
Failed stages: "run" (crash, exit before the ROI, bad exit code), "verify" (wrong output),
"timeout" (--max-cycles reached), "missing-tool" (rvsim not importable), "parse" (no ROI
symbols in the ELF). Exit status 0 whenever a JSON object was printed, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import time

# ---- models ----------------------------------------------------------------------------


def _rocket():
    """A Rocket-class core (Rocket Chip's default "big core" in a Chipyard RocketConfig):
    single-issue in-order, 16 KiB 4-way L1I and L1D, 512 KiB 8-way inclusive L2, a 28-entry
    BTB and 6-entry RAS (modelled as 32 / 8), a 512-entry gshare-style BHT, the iterative
    multiplier (8 bits per cycle) and divider, a 4-cycle FMA pipeline, at 1 GHz."""
    import rvsim
    from rvsim import Backend, BranchPredictor, Cache, Config, MemoryController

    cfg = Config(
        width=1,
        backend=Backend.InOrder(),
        branch_predictor=BranchPredictor.GShare(),
        btb_size=32,
        btb_ways=4,
        ras_size=8,
        cpu_clock_mhz=1000,
        l1i=Cache("16KB", line="64B", ways=4, latency=1),
        l1d=Cache("16KB", line="64B", ways=4, latency=1, mshr_count=2),
        l2=Cache("512KB", line="64B", ways=8, latency=20, mshr_count=8),
        l3=None,
        tlb_size=32,
        memory_controller=MemoryController.DRAM(t_cas=20, t_ras=20, t_pre=20),
        bus_latency=20,
    )
    d = cfg.to_dict()
    # The in-order backend takes its latencies from fu_config, which rvsim's Python Config
    # only sets for the out-of-order backend: set it in the native dict (one unit of each).
    fu = d["pipeline"]["fu_config"]
    for kind, count, latency in [
        ("int_alu", 1, 1), ("int_mul", 1, 8), ("int_div", 1, 33), ("fp_add", 1, 4),
        ("fp_mul", 1, 4), ("fp_fma", 1, 4), ("fp_div_sqrt", 1, 20), ("branch", 1, 1),
        ("mem", 1, 1),
    ]:
        fu["num_" + kind] = count
        fu[kind + "_latency"] = latency
    del rvsim
    return d


def _preset(name):
    def make():
        from rvsim import presets

        return presets.PRESETS[name]().to_dict()

    return make


MODELS = {
    "rocket": (_rocket, "Rocket-class in-order core (defined here; rvsim has no Rocket preset)"),
    "p550": (_preset("p550"), "rvsim preset: SiFive P550, 3-wide out-of-order"),
    "cortex_a72": (_preset("cortex_a72"), "rvsim preset: Arm Cortex-A72-like, 3-wide OoO"),
    "basic": (_preset("basic"), "rvsim preset: modest 4-wide OoO"),
    "m1": (_preset("m1"), "rvsim preset: Apple M1-like, 4-wide OoO"),
    "fast": (_preset("fast"), "rvsim preset: Apple M4-class, 8-wide OoO"),
}

# ---- ELF ---------------------------------------------------------------------------------


class ElfError(Exception):
    pass


def _check_elf(data: bytes) -> None:
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise ElfError("not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise ElfError("not a little-endian 64-bit ELF")
    (machine,) = struct.unpack_from("<H", data, 0x12)
    if machine != 243:
        raise ElfError(f"not a RISC-V ELF (e_machine {machine})")


def load_at_physical(data: bytes) -> tuple[bytes, int]:
    """A copy whose PT_LOAD segments have p_vaddr = p_paddr; returns it and how many
    segments changed."""
    _check_elf(data)
    out = bytearray(data)
    (phoff,) = struct.unpack_from("<Q", out, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", out, 0x36)
    changed = 0
    for i in range(phnum):
        at = phoff + i * phentsize
        (p_type,) = struct.unpack_from("<I", out, at)
        if p_type != 1:  # PT_LOAD
            continue
        vaddr, paddr = struct.unpack_from("<QQ", out, at + 0x10)
        if vaddr != paddr:
            struct.pack_into("<Q", out, at + 0x10, paddr)
            changed += 1
    return bytes(out), changed


def symbols(data: bytes, wanted: set[str]) -> dict[str, tuple[int, int]]:
    """(address, size) of the `wanted` symbols from the ELF's symbol table."""
    _check_elf(data)
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(shnum):
        at = shoff + i * shentsize
        _name, sh_type = struct.unpack_from("<II", data, at)
        offset, size = struct.unpack_from("<QQ", data, at + 0x18)
        (link,) = struct.unpack_from("<I", data, at + 0x28)
        (entsize,) = struct.unpack_from("<Q", data, at + 0x38)
        sections.append((sh_type, offset, size, link, entsize))
    found: dict[str, tuple[int, int]] = {}
    for sh_type, offset, size, link, entsize in sections:
        if sh_type != 2 or entsize == 0:  # SHT_SYMTAB
            continue
        str_off = sections[link][1]
        for k in range(size // entsize):
            at = offset + k * entsize
            (st_name,) = struct.unpack_from("<I", data, at)
            st_value, st_size = struct.unpack_from("<QQ", data, at + 8)
            end = data.index(b"\0", str_off + st_name)
            name = data[str_off + st_name : end].decode("ascii", "replace")
            if name in wanted:
                found[name] = (st_value, st_size)
    return found


# ---- run ---------------------------------------------------------------------------------

ROI_LINE = re.compile(r"simtune: roi minstret=(\d+) mcycle=(\d+)")


def _number(v):
    return int(v) if float(v).is_integer() else float(v)


def _stats_dict(stats) -> dict:
    out = {}
    for path in stats.query("**").paths():
        v = stats.get(path)
        if v is None or v != v or v == 0:  # drop absent, NaN and zero counters
            continue
        out[path] = _number(v)
    return out


def _verify_result(console: str) -> str:
    """'' when the harness printed "verify ok", else the reason (its failure line)."""
    for line in console.splitlines():
        if line.startswith("simtune: verify ok"):
            return ""
        if line.startswith("simtune: verify failed"):
            return line[len("simtune: ") :].strip()
    return "no verify line in the output"


def run(elf_path: str, model: str, verify: bool, max_cycles: int | None,
        stop_after_checksum: bool = False) -> dict:
    result: dict = {"status": "failed", "stage": "run", "message": "", "model": model}
    began = time.perf_counter()
    began_cpu = time.process_time()
    try:
        import rvsim
        from rvsim import Simulator
    except ImportError as e:
        result.update(stage="missing-tool",
                      message=f"cannot import rvsim ({e}); run scripts/setup-python")
        return result
    result["rvsim_version"] = rvsim.version()
    try:
        with open(elf_path, "rb") as f:
            data = f.read()
        image, relocated = load_at_physical(data)
        syms = symbols(data, {"simtune_roi_begin", "simtune_roi_end", "tohost",
                              "simtune_sim_done"})
    except (OSError, ElfError, struct.error, ValueError, IndexError) as e:
        result.update(stage="parse", message=f"{elf_path}: {e}")
        return result
    missing = [s for s in ("simtune_roi_begin", "simtune_roi_end", "tohost") if s not in syms]
    if missing:
        result.update(stage="parse", message=f"{elf_path}: no symbol {', '.join(missing)}")
        return result
    result["segments_moved_to_paddr"] = relocated

    config = MODELS[model][0]()
    config["system"]["console"] = "captured"
    sim = Simulator(config, elf_data=image)
    console = []

    def body(symbol):
        """Every 2-byte-aligned address in the function `symbol` (RVC: instructions start on
        any of them; the others never match)."""
        start, size = syms[symbol]
        return list(range(start, start + max(size, 2), 2))

    def run_to(pc=None):
        """Runs until the next instruction to retire is at one of the addresses `pc` (or to
        the end): ("pc"|"exit"|"timeout", exit code or None)."""
        while True:
            cycles = None
            if max_cycles is not None:
                cycles = max_cycles - sim.cycle
                if cycles <= 0:
                    return "timeout", None
            reason, value = sim.run_to(cycles=cycles, pc=pc, console_output=True)
            console.append(sim.read_console())
            if reason == "console":
                continue
            if reason == "cycles":
                return "timeout", None
            if reason in ("pc", "exit"):
                return reason, value
            raise RuntimeError(f"rvsim stopped for an unexpected reason: {reason} {value}")

    def fail(stage, message):
        result.update(stage=stage, message=message)
        text = "".join(console)
        result["console_tail"] = text[-2000:]
        result["host_s"] = round(time.perf_counter() - began, 3)
        return result

    def exited_before(symbol, code):
        """The program ended before reaching `symbol`: a wrong result if it says so."""
        why = _verify_result("".join(console))
        return fail("verify" if why.startswith("verify failed") else "run",
                    f"the program exited with code {code} before {symbol}")

    marks = []
    for symbol in ("simtune_roi_begin", "simtune_roi_end"):
        reason, value = run_to(body(symbol))
        if reason == "timeout":
            return fail("timeout", f"reached --max-cycles {max_cycles} before {symbol}")
        if reason == "exit":
            return exited_before(symbol, value)
        marks.append((sim.stats, sim.cycle, sim.instructions_retired))
    roi = marks[1][0] - marks[0][0]
    result["roi"] = {
        "cycles": int(roi.cycles),
        "instructions": int(roi.instructions_retired),
        "ipc": roi.ipc,
        "stats": _stats_dict(roi),
    }
    if verify and stop_after_checksum and "simtune_sim_done" in syms:
        reason, value = run_to(body("simtune_sim_done"))
        if reason == "timeout":
            return fail("timeout", f"reached --max-cycles {max_cycles} after the ROI")
        if reason == "exit":
            return exited_before("simtune_sim_done", value)
        text = "".join(console)
        lines = [l.strip() for l in text.splitlines() if l.startswith("simtune: checksum")]
        if not lines:
            return fail("run", "no 'simtune: checksum' line before simtune_sim_done")
        result["checksum_line"] = lines[-1]
        result["verify"] = "checksum"
    elif verify:
        reason, value = run_to(None)
        if reason == "timeout":
            return fail("timeout", f"reached --max-cycles {max_cycles} after the ROI")
        result["exit_code"] = value
        text = "".join(console)
        why = _verify_result(text)
        if why.startswith("verify failed"):
            return fail("verify", why)
        if value != 0:
            return fail("run", f"exit code {value}" + (f" ({why})" if why else ""))
        if why:
            return fail("run", why)
        result["verify"] = "ok"
    else:
        result["verify"] = "skipped"
    text = "".join(console)
    m = ROI_LINE.search(text)
    if m:
        result["roi"]["minstret"] = int(m.group(1))
        result["roi"]["mcycle"] = int(m.group(2))
    host_s = time.perf_counter() - began
    cpu_s = time.process_time() - began_cpu
    result.update(status="ok", stage="", message="")
    result["total"] = {"cycles": int(sim.cycle), "instructions": int(sim.instructions_retired)}
    result["host_s"] = round(host_s, 3)
    result["host_cpu_s"] = round(cpu_s, 3)
    # Simulated instructions per second of wall time and of this process's CPU time (the
    # latter is the simulator's speed on a machine shared with other work).
    result["sim_insns_per_s"] = round(sim.instructions_retired / host_s) if host_s > 0 else 0
    result["sim_insns_per_cpu_s"] = round(sim.instructions_retired / cpu_s) if cpu_s > 0 else 0
    result["console_tail"] = text[-400:]
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("elf", nargs="?")
    p.add_argument("--model", choices=sorted(MODELS))
    p.add_argument("--verify", choices=["on", "off"], default="on")
    p.add_argument("--stop-after-checksum", action="store_true")
    p.add_argument("--max-cycles", type=int, default=None)
    p.add_argument("--list-models", action="store_true")
    args = p.parse_args(argv)
    if args.list_models:
        for name in sorted(MODELS):
            print(f"{name}\t{MODELS[name][1]}")
        return 0
    if not args.elf or not args.model:
        p.error("an ELF and --model are required")
    if args.max_cycles is not None and args.max_cycles <= 0:
        p.error("--max-cycles must be positive")
    try:
        out = run(args.elf, args.model, args.verify == "on", args.max_cycles,
                  args.stop_after_checksum)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # a crash of the model (a Rust panic too): a failed row
        out = {"status": "failed", "stage": "run", "model": args.model,
               "message": f"rvsim raised {type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
