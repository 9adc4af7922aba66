"""profile_group.py - groups a cxbridge profile by pipeline stage (used by bench/profile.sh).

  profile_group.py perf BIN PERF_SCRIPT_TEXT [EVENTS]
      text of `perf script -F comm,tid,period,ip,sym,dso` with call chains
  profile_group.py callgrind BIN CALLGRIND_OUT_FILE [EVENTS]

EVENTS, the number of events accepted during the profile, adds the cost
per event (CPU microseconds for perf, instructions for callgrind).

Project functions are mapped to their module (the src/*.c file) with the
binary's debug information (`nm -l`), or by their module prefix when they
were inlined.  Library code is charged to the stage that called it:

  perf       every sample is charged to the innermost cxbridge frame on its
             stack (jansson under event_parse is "jansson parse", under
             log_json "logging"); samples with no cxbridge frame go to the
             library that owns the thread's work (MHD, curl) or to "other".
  callgrind  each function's self cost, library functions charged to the
             cxbridge function that called them (callgrind's call graph
             keeps only direct callers, so a library calling itself is
             followed up to the first cxbridge caller, by cost share).

Prints the buckets the benchmark doc uses, then the top functions.
"""

import collections
import os
import re
import subprocess
import sys

# Project module (src/X.c) -> reporting bucket.
BUCKET = {
    "http": "http/MHD",
    "ingest": "ingest glue",
    "event": "event (parse, map)",
    "jsonscan": "schema",
    "schema": "schema",
    "rfc3339": "schema",
    "auth": "auth",
    "dedupe": "dedupe",
    "order": "ordering",
    "queue": "queue",
    "batcher": "batcher",
    "entry": "batcher",
    "sigv4": "sigv4",
    "aws": "curl",
    "awsproto": "awsproto (bodies)",
    "log": "logging",
    "metrics": "metrics",
    "stats": "metrics",
    "main": "main",
    "clock": "batcher",
}
# Project modules that only wrap a library (jsonmem is jansson's allocator
# hook): their frames count as that library's, so the cost goes to whoever
# called the library.
PASS_THROUGH = {"jsonmem": "libjansson"}
# Where a library's cost goes when no cxbridge frame is above it.
LIB_BUCKET = [
    ("libmicrohttpd", "http/MHD"),
    ("libcurl", "curl"),
    ("libnghttp", "curl"),
    ("libjansson", "jansson (other)"),
    ("libcrypto", "openssl (other)"),
    ("libssl", "openssl (other)"),
]


def load_symbols(binary):
    """{function name: module} from the binary's debug line table."""
    out = subprocess.run(["nm", "-l", "--defined-only", binary],
                         capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[1] not in "tTwW":
            continue
        src = parts[3].rsplit(":", 1)[0]
        if "/src/" in src and src.endswith(".c"):
            mod = os.path.basename(src)[:-2]
            syms[parts[2]] = mod
            syms.setdefault(parts[2].split(".")[0], mod)  # dd_find.isra.0
    return syms


class Mapper:
    def __init__(self, binary):
        self.binary = os.path.basename(binary)
        self.syms = load_symbols(binary)
        self.modules = sorted(set(self.syms.values()), key=len, reverse=True)

    def module(self, sym, dso):
        """The project module of a frame, or None for library/kernel code."""
        base = sym.split(".")[0]        # foo.constprop.0, foo.part.1
        ours = dso is not None and os.path.basename(dso) == self.binary
        if not ours and dso not in (None, "?"):
            return None
        if sym in self.syms or base in self.syms:
            return self.syms.get(sym, self.syms.get(base))
        for m in self.modules:          # inlined static: module-prefixed
            if base.startswith(m + "_"):
                return m
        return "" if ours else None     # ours, module unknown: look further up


def lib_of(dso):
    if dso is None:
        return None
    b = os.path.basename(dso)
    if "kernel" in b or b == "[vdso]":
        return "kernel"
    return b


# Stages whose jansson calls are the event's own parse/validate/answer path.
INGEST_SIDE = ("event (parse, map)", "ingest glue", "schema", "http/MHD", "auth")


def jansson_kind(sym):
    """What project code asked jansson for, by the entry point it called."""
    if sym.startswith("json_load"):
        return "jansson parse"
    if sym.startswith("json_dump"):
        return "jansson dump"
    if sym in ("json_delete", "json_decref"):
        return "jansson free"
    return "jansson build"


def library_bucket(b, lib, entry_sym):
    """Bucket for library code called from project bucket b; entry_sym is
    the library function the project code called."""
    if b.startswith("jansson "):
        return b
    if "libjansson" in lib:
        return jansson_kind(entry_sym) if b in INGEST_SIDE else b
    if "libcurl" in lib:
        return "curl"
    if "libmicrohttpd" in lib:
        return "http/MHD"
    return b


def stage_bucket(module, libs_below):
    """Bucket for cost in `module` whose leaf side ran in libs_below, a list
    of (library, symbol) from the leaf up to just below module's frame."""
    b = BUCKET.get(module, module)
    for lib in ("libjansson", "libcurl", "libmicrohttpd"):
        entries = [sym for l, sym in libs_below if lib in l]
        if entries:
            return library_bucket(b, lib, entries[-1])
    return b


# ---------------------------------------------------------------- perf

FRAME = re.compile(r"^\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$")


def perf_samples(path):
    """Yields (comm, period, [(sym, dso), ...] leaf first)."""
    comm, period, frames = None, 1, []
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if comm is not None:
                    yield comm, period, frames
                comm, frames = None, []
                continue
            if not line.startswith((" ", "\t")):
                head = line.split()
                comm = head[0]
                period = int(head[-1]) if head[-1].isdigit() else 1
                continue
            m = FRAME.match(line)
            if m:
                sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(2))
                dso = m.group(3)
                frames.append((sym, None if dso == "inlined" else dso,
                               m.group(1)))
    if comm is not None:
        yield comm, period, frames


def fill_inlined(frames):
    """An inlined frame lives in the DSO of the next real frame at the same
    address; perf also marks some libc entry points "inlined", and those
    (no real frame at their address) get "?"."""
    out, pending = [], []
    for sym, dso, ip in frames:
        if dso is None:
            pending.append((sym, ip))
            continue
        out.extend((s, dso if i == ip else "?") for s, i in pending)
        pending = []
        out.append((sym, dso))
    out.extend((s, "?") for s, _ in pending)
    return out


def perf_main(binary, path, events):
    mp = Mapper(binary)
    buckets = collections.Counter()
    kernel = collections.Counter()
    selfcost = collections.Counter()
    threads = collections.Counter()
    owner = collections.Counter()
    total = 0
    for comm, period, frames in perf_samples(path):
        frames = fill_inlined(frames)
        if not frames:
            continue
        total += period
        threads[comm] += period
        leaf_sym, leaf_dso = frames[0]
        selfcost["%s [%s]" % (leaf_sym, lib_of(leaf_dso))] += period
        libs = []
        bucket = None
        unmapped = None
        for sym, dso in frames:
            mod = mp.module(sym, dso)
            if mod in PASS_THROUGH:
                libs.append((PASS_THROUGH[mod], sym))
                continue
            if mod == "":
                unmapped = unmapped or sym
                continue
            if mod is not None:
                bucket = stage_bucket(mod, libs)
                owner["%s (%s)" % (sym, bucket)] += period
                break
            libs.append((lib_of(dso) or "?", sym))
        if bucket is None and unmapped is not None:
            bucket = stage_bucket("main", libs)
        if bucket is None:
            bucket = "other (%s)" % comm
            for lib, b in LIB_BUCKET:
                if any(lib in l for l, _ in libs):
                    bucket = b
                    break
            else:
                if libs and all(l == "kernel" for l, _ in libs):
                    bucket = "kernel (no user stack: %s)" % comm
        buckets[bucket] += period
        if lib_of(leaf_dso) == "kernel":
            kernel[bucket] += period
    if events:
        # cpu-clock periods are nanoseconds.
        print("CPU per accepted event: %.1f us (%d events)" %
              (total / 1000.0 / events, events))
    report(buckets, selfcost, total, kernel, threads,
           "perf samples (cpu time, kernel included)", owner,
           (events * 1000.0, "us") if events else None)


# ----------------------------------------------------------- callgrind

def callgrind_parse(path):
    """Self cost per function and caller->callee inclusive costs."""
    names = {"fn": {}, "fl": {}, "ob": {}}
    selfc = collections.Counter()
    calls = collections.defaultdict(collections.Counter)  # callee -> caller -> cost
    obj = {}
    cur_ob = cur_fl = cur_fn = None
    cfn = cob = None
    in_call = False
    comp = re.compile(r"^(fn|fl|fi|fe|ob|cfn|cfi|cfl|cob)=(?:\((\d+)\))?\s*(.*)$")

    def resolve(kind, idx, name):
        table = names["fl" if kind in ("fl", "fi", "fe", "cfi", "cfl") else
                      "ob" if kind in ("ob", "cob") else "fn"]
        if idx is None:
            return name
        if name:
            table[idx] = name
        return table.get(idx, "?")

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = comp.match(line)
            if m:
                kind, idx, name = m.group(1), m.group(2), m.group(3)
                val = resolve(kind, idx, name)
                if kind == "ob":
                    cur_ob = val
                elif kind == "fl":
                    cur_fl = val
                elif kind == "fn":
                    cur_fn = (val, cur_ob)
                    obj[cur_fn] = cur_ob
                    cob = None
                elif kind == "cob":
                    cob = val
                elif kind == "cfn":
                    cfn = (val, cob or cur_ob)
                continue
            if line.startswith("calls="):
                in_call = True
                continue
            if not line or not (line[0].isdigit() or line[0] in "+-*"):
                continue
            parts = line.split()
            cost = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            if in_call:
                calls[cfn][cur_fn] += cost
                in_call = False
                cob = None
            elif cur_fn is not None:
                selfc[cur_fn] += cost
    return selfc, calls


def callgrind_main(binary, path, events):
    mp = Mapper(binary)
    selfc, calls = callgrind_parse(path)
    total = sum(selfc.values())
    buckets = collections.Counter()
    selfcost = collections.Counter()
    memo = {}
    active = set()

    def owner(fn, depth=0):
        """{bucket: share} for cost spent in fn, following callers up to
        the first cxbridge function.  Callers already being followed (call
        cycles inside a library) are left out and the rest renormalized."""
        if fn in memo:
            return memo[fn]
        name, ob = fn
        mod = mp.module(name, ob)
        if mod == "" and not calls.get(fn):
            mod = "main"
        lib = lib_of(ob) or "?"
        if mod in PASS_THROUGH:
            mod, lib = None, PASS_THROUGH[mod]
        res = collections.Counter()
        if mod:
            res[BUCKET.get(mod, mod)] = 1.0
        elif depth <= 16 and calls.get(fn):
            active.add(fn)
            callers = {c: n for c, n in calls[fn].items() if c not in active}
            tot = sum(callers.values())
            for caller, c in callers.items():
                for b, share in owner(caller, depth + 1).items():
                    res[library_bucket(b, lib, name)] += share * c / tot
            active.discard(fn)
        if not res:
            res["other (%s)" % lib] = 1.0
            for l, b in LIB_BUCKET:
                if l in lib:
                    res = collections.Counter({b: 1.0})
                    break
        res = dict(res)
        if depth == 0 or not active:
            memo[fn] = res
        return res

    for fn, c in selfc.items():
        name, ob = fn
        selfcost["%s [%s]" % (name, lib_of(ob))] += c
        for b, share in owner(fn).items():
            buckets[b] += c * share
    if events:
        print("instructions per accepted event: %.0f (%d events)" %
              (total / events, events))
    report(buckets, selfcost, total, None, None,
           "callgrind instructions (user space only)", None,
           (events * 1000.0, "k instr") if events else None)


# -------------------------------------------------------------- output

def report(buckets, selfcost, total, kernel, threads, what, owner=None,
           per_event=None):
    """per_event: (divisor, unit) to show each stage's cost per event."""
    if total == 0:
        print("no samples")
        return
    print("cost by stage (%s, total %d):" % (what, total))
    for b, c in buckets.most_common():
        if c * 1000 < total:
            continue
        extra = ""
        if per_event:
            extra += "  %8.1f %s/event" % (c / per_event[0], per_event[1])
        if kernel is not None and kernel[b]:
            extra += "  (kernel %4.1f%%)" % (100.0 * kernel[b] / total)
        print("  %5.1f%%  %-22s%s" % (100.0 * c / total, b, extra))
    rest = sum(c for c in buckets.values() if c * 1000 < total)
    if rest:
        print("  %5.1f%%  (buckets under 0.1%%)" % (100.0 * rest / total))
    if threads:
        print("by thread: " + ", ".join("%s %.1f%%" % (t, 100.0 * c / total)
                                        for t, c in threads.most_common(6)))
    if owner:
        print("top cxbridge functions (with the library and kernel code under them):")
        for f, c in owner.most_common(20):
            print("  %5.1f%%  %s" % (100.0 * c / total, f))
    print("top functions (self):")
    for f, c in selfcost.most_common(25):
        print("  %5.1f%%  %s" % (100.0 * c / total, f))


def main():
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in ("perf", "callgrind"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    events = int(sys.argv[4]) if len(sys.argv) == 5 else 0
    if sys.argv[1] == "perf":
        perf_main(sys.argv[2], sys.argv[3], events)
    else:
        callgrind_main(sys.argv[2], sys.argv[3], events)


if __name__ == "__main__":
    main()
