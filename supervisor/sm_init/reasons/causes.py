"""Known causes (the precedence's second rule): NCCL and CUDA errors, a signal as a shell, an IDE
or a launcher reports it (in glibc's locales, zsh's, fish's words), SIGKILL and the kernel's OOM
killer, glibc's own reasons for an abort, a failed allocation, a native crash; and ``earliest``,
the matcher the table's plainest causes are.

Imports memo, lines, findings, hints, matchers, tracebacks.
"""

import bisect
import re
from typing import Callable, Optional, Sequence

from .memo import remembered
from .lines import joined, Line
from .findings import Hit
from .hints import HINT_CUDA_OOM, HINT_SHM
from .matchers import first_line, holds, matching, tidy
from .tracebacks import output_lines


def earliest(pattern: str) -> Callable[[Sequence[Line]], Optional[Hit]]:
    """A matcher: the first line of output (not a traceback's code) that matches ``pattern``,
    shown tidied."""
    regex = re.compile(pattern, re.M)

    def find(lines: Sequence[Line]) -> Optional[Hit]:
        line = first_line(output_lines(lines), regex)
        return None if line is None else Hit(line, tidy(line.text))
    return find


# NCCL and CUDA -----------------------------------------------------------------------------------

# nccl-tests' NCCLCHECK and CUDACHECK (src/common.h): "Test NCCL failure common.cu:908 'unhandled
# cuda error / ...'" (older: "NCCL failure common.cu:908 '...'"). XLA's status of a failed NCCL call
# (xla/service/gpu's ToStatus, XLA_NCCL_STATUS: "%s:%d: NCCL operation %s failed: %s", the call's
# text and ncclGetErrorString's, "Unable to load NCCL library" where the library would not load),
# inside the message of the collective's XlaRuntimeError: the NCCL error it is.
# Alternatives that share a start share a branch: a position tries few of them.
NCCL = re.compile(r"NCCL (?:error|Error \d|failure \S+:\d+ '|watchdog thread terminated with exception"
                  r"|operation nccl[A-Z]\w{0,60}\()"
                  r"|CUDA failure \S+:\d+ '(?!out of memory)|\bnccl[A-Z]\w{0,40}Error\b"
                  r"|Watchdog caught collective operation timeout"
                  r"|unhandled system error|Process group watchdog thread terminated with exception"
                  # init.cc's check of two ranks on one device, pasted without its "NCCL WARN" (with
                  # it, NCCL's warning rules show it from the "NCCL WARN" on)
                  r"|^Duplicate GPU detected : rank \d+ and rank \d+ both on CUDA device"
                  r"|^\[E(?:\d{4} [\d:.]+)? *(?:\d+ )?ProcessGroupNCCL\.cpp")
NCCL_LAST_ERROR = re.compile(r"^\s*Last error:\s*$")
# NCCL's own warning (debug.cc: "host:pid:tid [dev] NCCL WARN msg"), printed where the failure
# happened, before the error that its caller reports: the last one before it says what went wrong
# (the failure's return travels up at INFO level, "init.cc:1234 -> 1"; a warning at start-up, a
# missing net plugin, comes earlier and is harmless).
NCCL_WARN = re.compile(r"\bNCCL WARN (\S.*)$")
NCCL_WARN_DISTANCE = 50   # lines between NCCL's warning and the error it led to
# A failure's return going up at INFO level (NCCL's checks.h, NCCLCHECK: INFO(NCCL_ALL, "%s:%d -> %d",
# __FILE__, __LINE__, res)), right after the warning where it failed.
NCCL_RETURN = re.compile(r"NCCL INFO [\w./-]{1,200}:\d{1,6} -> \d{1,3}(?: \[[\w ]{1,40}\])?$")
# NCCL 2.0 to 2.3's warning (debug.h's WARN macro: "\\n%s:%d:%d [%d] %s:%d WARN ", host, pid, tid, device,
# file, line; 2.0's binary printed "host [0] include/socket.h:185 WARN msg"): no "NCCL" before WARN, and
# no failure's return after it at WARN level. Taken only where it is the line right before the error
# (the program's NCCLCHECK printed "NCCL failure common.cu:110 'unhandled system error'" next).
NCCL_OLD_WARN = re.compile(r"\[\d{1,3}\] [\w./-]{1,200}\.(?:cu|cc|cpp|c|h|hpp):\d{1,6} WARN (\S.*)$")
NCCL_DEBUG_ADVICE = re.compile(r" \(run with NCCL_DEBUG=\w+ for details\)")   # the hint says it
# Any CUDA error but running out of memory (its own recogniser, its own hint).
CUDA_ERROR = re.compile(r"CUDA error: (?!out of memory)\S|\bcuda(?:Error\w+|ErrorIllegalAddress)\b"
                        r"|Assertion `[^`]{0,1000}` failed\.|device-side assert triggered")
# The driver's own names too (cuda.h's CUresult, "CUDA_ERROR_ILLEGAL_ADDRESS", as XLA's status lines
# put them; not TensorFlow's cuInit at start-up, which falls back to the CPU, nor an allocation that
# TensorFlow's and XLA's allocators retry smaller) and cuDNN's (cudnn.h's cudnnStatus_t,
# "CUDNN_STATUS_..."; TensorFlow's cuda_dnn.cc: "Could not create cudnn handle: ...", lower case in
# older ones). And the CUDA_CHECK_RETURN macro of Nsight's CUDA project template, which bitsandbytes'
# csrc/ops.cuh and many kernels copy: fprintf(stderr, "Error %s at line %d in file %s\n",
# cudaGetErrorString(...), __LINE__, __FILE__), then exit(1); the file a C, C++ or CUDA source, the
# whole line its ("out of memory" gets the OOM's hint). And the CUDA_CHECK macro that llama.cpp's
# ggml-cuda and many C and C++ projects share: fprintf(stderr, "CUDA error %d at %s:%d: %s\n", err,
# __FILE__, __LINE__, cudaGetErrorString(err)), then exit(1). Looked for only in a tail that holds
# one of their literals: no cost elsewhere.
CUDA_NAMES = re.compile(r"CUDA_ERROR_(?<!cuInit: CUDA_ERROR_)(?!OUT_OF_MEMORY\b)[A-Z]{2}[A-Z_]{0,60}\b"
                        r"|CUDNN_STATUS_[A-Z]{2}[A-Z_]{0,60}|[Cc]ould not create cudnn handle"
                        r"|Error (?<![^\n]Error )[^\n]{1,200} at line \d+ in file "
                        r"[^\n]{1,300}\.(?:cu|cuh|c|cc|cpp|h|hpp)$"
                        r"|CUDA error \d{1,5} at [^\n:]{1,300}:\d{1,7}: \S", re.M)


CUDA_CHECK_OOM = re.compile(r"CUDA error \d{1,5} at [^\n:]{1,300}:\d{1,7}: out of memory")


# Lua torch's cutorch and PyTorch before 1.0 out of GPU memory (THCGeneral's __THCudaCheck:
# fprintf(stderr, "THCudaCheck FAIL file=%s line=%i error=%i : %s\n", ..., cudaGetErrorString(err)),
# then THError's "cuda runtime error (%d) : %s"; error 2 is cudaErrorMemoryAllocation, whose string
# is "out of memory"): the OOM, before the crash or the errors it leads to. THError's line (the
# RuntimeError PyTorch raises, Lua's own error) where the output holds one, else THCudaCheck's.
# Not THCudaCheckWarn's, a warning the process goes on from.
THC_OOM_ERROR = re.compile(r"cuda runtime error \(\d{1,5}\) : out of memory")
THC_OOM_CHECK = re.compile(r"(?<!\S)THCudaCheck FAIL file=[^\n]{1,300}? line=\d{1,9} error=\d{1,5} : out of memory")


def thc_oom(lines: Sequence[Line]) -> Optional[Hit]:
    """Old torch's report that the GPU ran out of memory (THC_OOM_ERROR, THC_OOM_CHECK)."""
    output = output_lines(lines)
    if not holds(joined(output)[0], " : out of memory"):
        return None
    line = first_line(output, THC_OOM_ERROR) or first_line(output, THC_OOM_CHECK)
    return None if line is None else Hit(line, tidy(line.text))


def cuda_oom(pattern: str) -> Callable[[Sequence[Line]], Optional[Hit]]:
    """A matcher: the first line that ``pattern`` matches, or old torch's OOM, the earlier."""
    found = earliest(pattern)
    return lambda lines: earlier(found(lines), thc_oom(lines))


def _may_name_cuda(text: str) -> bool:
    """Whether ``text`` holds a literal that every match of CUDA_NAMES holds: a few scans at C speed."""
    return holds(text, "CUDA_ERROR_", "CUDNN_STATUS_", "cudnn handle", " in file ", "CUDA error ")


# torch's advice after every CUDA error; the hint says what to do, the error line has no room for it.
CUDA_ADVICE = re.compile(r"\s*(?:CUDA kernel errors might be asynchronously reported.{0,200}?incorrect\."
                         r"|For debugging consider passing CUDA_LAUNCH_BLOCKING=1\.?"
                         r"|Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions\.)")


def nccl_error(lines: Sequence[Line]) -> Optional[Hit]:
    """The first NCCL error, with NCCL's own "Last error:" line when it follows (the real reason)."""
    hit = earliest(NCCL.pattern)(lines)
    if hit is None:
        return None
    error = _without_advice(NCCL_DEBUG_ADVICE.sub("", hit.error))
    position = lines.index(hit.line)
    after = [line for line in lines[position + 1:position + 6] if line.rank == hit.line.rank]
    for marker, detail in zip(after, after[1:]):
        if NCCL_LAST_ERROR.match(marker.text) and detail.text.strip():
            error += f"; last error: {tidy(detail.text)}"
            return hit._replace(error=error)
    window = [line for line in lines[max(0, position - NCCL_WARN_DISTANCE):position] if line.rank == hit.line.rank]
    # A warning that its failure's return follows ("NCCL INFO init.cc:878 -> 2") reports a failure:
    # the first such is where it failed, later ones its consequences. Else (a start-up notice, a
    # probe's) the last warning before the error.
    failed = [line for line, after in zip(window, window[1:])
              if "NCCL WARN" in line.text and " -> " in after.text and NCCL_RETURN.search(after.text)]
    before = failed[:1] or [line for line in window if "NCCL WARN" in line.text][-1:]
    warnings = (NCCL_WARN.search(line.text) for line in before)
    warning = next((found for found in warnings if found), None)
    if warning is None and window and window[-1] is lines[position - 1] and " WARN " in window[-1].text:
        warning = NCCL_OLD_WARN.search(window[-1].text)
    if warning and warning.group(1) not in error:
        error += f"; NCCL WARN {tidy(warning.group(1))}"
    return hit._replace(error=error)


def cuda_error(lines: Sequence[Line]) -> Optional[Hit]:
    """The first CUDA error (an illegal address, a device-side assert, no kernel image, ...)."""
    hit = earliest(CUDA_ERROR.pattern)(lines)
    text = joined(output_lines(lines))[0]
    if _may_name_cuda(text):
        hit = earlier(hit, earliest(CUDA_NAMES.pattern)(lines))
        if hit is not None and (hit.error.startswith("Error out of memory at line ")
                                or CUDA_CHECK_OOM.search(hit.error)):
            hit = hit._replace(hint=HINT_CUDA_OOM)
    return hit and hit._replace(error=_without_advice(hit.error))


def _without_advice(error: str) -> str:
    return CUDA_ADVICE.sub("", error).strip()


# Crashes and kills: how a shell, an IDE or a launcher reports a signal --------------------------

# strsignal()'s words, which bash and dash print for a child that a signal ended: English, and
# glibc's translations in common locales (po/zh_CN.po, zh_TW, ja, ko, de, fr, es, ru, pt_BR, it; as
# Debian's libc-l10n 2.36 has them). A word of a locale counts only where a shell puts it: alone on
# its line (dash), after the pid of bash's job report, after a progress bar; never in prose.
SIGNAL_WORDS = {
    "SIGKILL": ("Killed", "已杀死", "強制結束", "強制終了", "죽었음", "Getötet", "Processus arrêté",
                "Terminado (killed)", "Убито", "Morto", "Ucciso"),
    "SIGSEGV": ("Segmentation fault", "段错误", "程式記憶體區段錯誤", "세그멘테이션 오류", "Speicherzugriffsfehler",
                "Erreur de segmentation", "Violación de segmento", "Ошибка сегментирования",
                "Falha de segmentação", "Errore di segmentazione"),
    "SIGBUS": ("Bus error", "总线错误", "匯流排錯誤", "バスエラー", "버스 오류", "Bus-Zugriffsfehler", "Erreur du bus",
               "Error del bus", "Ошибка шины", "Erro no barramento", "Errore di bus"),
    "SIGILL": ("Illegal instruction", "非法指令", "無效指令", "명령어가 잘못됨", "Ungültiger Maschinenbefehl",
               "Instruction non permise", "Instrucción ilegal", "Недопустимая инструкция",
               "Instrução ilegal", "Istruzione non consentita"),
    "SIGFPE": ("Floating point exception", "浮点数例外", "浮點數例外", "浮動小数点例外", "부동 소수점 예외",
               "Gleitkomma-Ausnahme", "Exception en point flottant", "Excepción de coma flotante",
               "Исключение в операции с плавающей точкой", "Exceção de ponto flutuante",
               "Eccezione in virgola mobile"),
    "SIGABRT": ("Aborted", "已放弃", "中止", "중지됨", "Abgebrochen", "Abandon", "Abortado", "Аварийный останов",
                "Annullato"),
}
# zsh's own words (Src/signames2.awk's msg table), lower case, before the command it ran:
# "zsh: segmentation fault (core dumped)  python train.py", "[1]  + 14957 killed     python ...".
ZSH_WORDS = {"SIGKILL": "killed", "SIGSEGV": "segmentation fault", "SIGBUS": "bus error",
             "SIGILL": "illegal hardware instruction", "SIGFPE": "floating point exception",
             "SIGABRT": "abort"}
# The words the English patterns below (KILLED, CRASH, ABORTED) do not know: other locales', zsh's.
WORD_SIGNAL = {word: signal for signal, words in SIGNAL_WORDS.items() for word in words[1:]}
WORD_SIGNAL.update({word: signal for signal, word in ZSH_WORDS.items()})
_WORDS = "|".join(re.escape(word) for word in sorted(WORD_SIGNAL, key=len, reverse=True))
# Each form is found by a search that skips what cannot match at C speed (a literal; a digit and a
# space), then checked where it stands: a 64 KiB tail of anything else costs a millisecond or two.
# bash's job report in any locale ("x.sh: line 1: 7364 Getötet   cmd", "第 1 行：7364 已杀死") and
# zsh's ("[1]  + 14957 killed     cmd", "14957 segmentation fault (core dumped)  cmd"): the pid, the
# word, then spaces or the line's end.
_FIRST = re.escape("".join(sorted({word[0] for word in WORD_SIGNAL})))   # one test before the words
SIGNAL_AFTER_PID = re.compile(rf"[0-9] (?=[{_FIRST}])({_WORDS})(?: \(core dumped\))?(?=[ \t(（]|$)", re.M)
# zsh's report of a foreground job: "zsh: segmentation fault (core dumped)  python train.py".
SIGNAL_ZSH = re.compile(rf"zsh: ({'|'.join(ZSH_WORDS.values())})(?: \(core dumped\))?(?=  +\S| *$)", re.M)
# fish's ("fish: Job 1, 'python train.py' terminated by signal SIGSEGV (Address boundary error)")
# and PyCharm's ("Process finished with exit code 137 (interrupted by signal 9:SIGKILL)").
SIGNAL_NAMED = re.compile(r"by signal (?:\d+: ?)?(SIG(?:KILL|SEGV|BUS|ILL|FPE|ABRT))\b")
# A locale's word alone on its line (a shell; a paste that kept only the word; what a progress bar
# left without its newline was peeled off), the shell's "(core dumped)" in its language after it
# ("段错误 (核心已转储)"). Looked up in a set, the line's text whole: no search at all.
ALONE = frozenset(word for words in SIGNAL_WORDS.values() for word in words[1:])
CORE = re.compile(r"[ \t]*[(（][^()（）]{1,40}[)）]$")
# A line that can be one of these words and its "(core dumped)": where CORE is tried (a line ending
# in a bracket is common, one of these words before it is not). Anchored at the line's start (not
# tried at each E of a line of them), the words' first characters tested before the words.
_ALONE_FIRST = re.escape("".join(sorted({word[0] for word in ALONE})))
CLOSED = re.compile(rf"^\s*(?=[{_ALONE_FIRST}])(?:{'|'.join(map(re.escape, ALONE))})\s*[(（][^()（）]{{1,40}}[)）]$",
                    re.M)


@remembered
def signal_reports(lines: Sequence[Line]) -> dict:
    """The first report of a death by each signal in ``lines`` (output, not code): {"SIGKILL": line}."""
    output = output_lines(lines)
    text, starts = joined(output)
    found: dict = {}

    def report(signal: str, line: Line) -> None:
        if signal not in found or line.index < found[signal].index:
            found[signal] = line

    for pattern in (SIGNAL_AFTER_PID, SIGNAL_ZSH, SIGNAL_NAMED):
        for match in pattern.finditer(text):
            signal = WORD_SIGNAL.get(match.group(1), match.group(1))
            report(signal, output[bisect.bisect_right(starts, match.start()) - 1])
    texts = text.split("\n")
    for word in ALONE.intersection(texts):
        report(WORD_SIGNAL[word], output[texts.index(word)])
    for position in matching(output, CLOSED):
        line = output[position]
        word = CORE.sub("", line.text).strip()
        if word in ALONE:
            report(WORD_SIGNAL[word], line)
    return found


def signal_hit(lines: Sequence[Line], *signals: str) -> Optional[Hit]:
    """The earliest report of a death by one of ``signals``, tidied."""
    reported = [line for signal, line in signal_reports(lines).items() if signal in signals]
    if not reported:
        return None
    line = min(reported, key=lambda line: line.index)
    return Hit(line, tidy(line.text))


def earlier_line(*lines: Optional[Line]) -> Optional[Line]:
    """Of lines of one stream, the earliest."""
    return min((line for line in lines if line is not None), key=lambda line: line.index, default=None)


def earlier(*hits: Optional[Hit]) -> Optional[Hit]:
    """Of hits on lines of one stream, the one on the earliest line."""
    return min((hit for hit in hits if hit is not None), key=lambda hit: hit.line.index, default=None)


# bash's job report in English (and dash's "Killed" alone, after a progress bar or a status line left
# without its newline: conda's "Solving environment: ...working... Killed"), torch's words.
# Slurm's (slurmstepd's cgroup "Detected 1 oom_kill event in StepId=7.0. Some of the step tasks
# have been OOM Killed.", srun's "srun: error: node1: task 0: Out Of Memory" and "...: Killed").
# macOS's bash adds the signal's number ("Killed: 9", "Abort trap: 6").
KILLED = earliest(r"(?:^|\]|\.\.\. )Killed(?:: 9)?$|^(?:\S+: )?(?:line \d+: )?[ \t]*\d+ Killed(?:: 9)?(?:[ \t]|$)"
                  r"|killed by signal: Killed")
# A scheduler's or batch system's memory limit: Slurm's cgroup count and srun's task report, LSF's,
# PBS's; make's report of its recipe's SIGKILL; gcc's driver's of a compiler it ran that got SIGKILL
# (gcc.c's execute(): "%s signal terminated program %s" with strsignal's "Killed", a fatal error;
# g++ 12 run here, its cc1plus killed: "g++: fatal error: Killed signal terminated program cc1plus").
# Apart from the above, every alternative starting with a literal: a search skips at C speed to the
# few characters that can start one.
KILLED_BY_LIMIT = earliest(r"oom[-_]kill event(?:s|\(s\))? in |: tasks? [\d,-]+: (?:Killed|Out Of Memory)$"
                           r"|TERM_MEMLIMIT: job killed|PBS: job killed: v?mem "
                           r"|make(?:\[\d+\])?: \*\*\* [^\n]{0,300}\] Killed$"
                           r"|: fatal error: Killed signal terminated program [\w.+-]{1,100}$")
ABORTED = earliest(r"^(?:Fatal Python error: )?Aborted\b|\bAbort(?:ed \(core dumped\)| trap: 6)|(?<!\d)\d+ Aborted\b"
                   r"|SIGABRT")

# glibc's own message before the abort it calls: its heap checks (malloc/malloc.c's malloc_printerr:
# "double free or corruption (!prev)", "free(): invalid pointer", "malloc(): corrupted top size",
# "munmap_chunk(): invalid pointer", ...) and __fortify_fail's "*** stack smashing detected ***:
# terminated" (older glibc: "*** Error in `python': double free or corruption (!prev): 0x... ***").
# The strings as libc.so.6 holds them; each alternative starts at the line's start with a literal,
# after the spaces a terminal may have left there (a progress bar wider than the terminal, wrapped,
# then erased: "   ...   free(): invalid pointer").
GLIBC_ABORT = earliest(r"^[ \t]*(?:\*\*\* Error in `[^`\n]{0,300}': )?(?:(?:free|malloc|realloc|munmap_chunk"
                       r"|mremap_chunk|malloc_consolidate|tcache_thread_shutdown)\(\): [a-z]|double free or corruption \("
                       r"|corrupted (?:double-linked list|size vs\. prev_size)|invalid fastbin entry \(free\))"
                       r"|^[ \t]*\*\*\* (?:stack smashing|buffer overflow) detected \*\*\*")

# The kernel's OOM killer as dmesg prints it (mm/oom_kill.c: __oom_kill_process's "%s: Killed process
# %d (%s) total-vm:...", its message "Out of memory" or "Memory cgroup out of memory"; older kernels'
# "Killed process %d (%s)" alone on the line; dump_oom_summary's "oom-kill:constraint=..."), behind
# dmesg's "[12345.678901] " or -T's "[Sun Mar 30 08:24:00 2025] ": it says why a process got SIGKILL.
# Kernels before 4.19 first chose a process, "%s: Kill process %d (%s) score %u or sacrifice child"
# (oom_kill_process), then killed it or one of its children, "Killed process %d (%s) total-vm:...":
# the choice says why, and names the process that used the memory (a child killed for it need not).
KERNEL_OOM = (("Kill process ", re.compile(r"(?:Out of memory|Memory cgroup out of memory): Kill process \d+ \(")),
              ("Killed process ", re.compile(r"(?:Out of memory|Memory cgroup out of memory): Killed process"
                                              r" \d+ \(|^(?:\[[^\]]{1,40}\] ?)?Killed process \d+ \(")),
              ("oom-kill:constraint=", re.compile(r"oom-kill:constraint=")))
DMESG_STAMP = re.compile(r"^\[[^\]]{1,40}\] ?")


def kernel_oom(lines: Sequence[Line]) -> Optional[Hit]:
    """The kernel's line that it killed a process, else its summary line; without dmesg's stamp."""
    output = output_lines(lines)
    text = joined(output)[0]
    for literal, pattern in KERNEL_OOM:
        if not holds(text, literal):   # the lines holding the literal, the pattern then: one scan of most tails
            continue
        for line in output:
            if literal in line.text and pattern.search(line.text):
                return Hit(line, DMESG_STAMP.sub("", tidy(line.text), count=1))
    return None


def killed(lines: Sequence[Line]) -> Optional[Hit]:
    """The kernel's report of its OOM kill where the output holds it (it says why), else the first
    report of a SIGKILL."""
    return kernel_oom(lines) or earlier(KILLED(lines), KILLED_BY_LIMIT(lines), signal_hit(lines, "SIGKILL"))


# A script with Windows line ends (CR LF) run by bash: each of its lines ends in a carriage return,
# which a complaint shows quoted as bash's printable_filename quotes a name with a control character
# (general.c: ansic_quote, "$'\r'"): "train.sh: line 12: $'\r': command not found" (a blank line),
# "$'python\r'", and coreutils as their quotearg does ("ls: cannot access '/data'$'\r': No such
# file or directory"; bash 5.2 and ls run here on such a script). The script is broken from its first
# line: what fails after that (a traceback of the arguments it passed with "\r" on the last) is a
# consequence, and its first such complaint the cause, after the causes above (an OOM it lived to
# see is still how it ended).
CRLF_SCRIPT = earliest(r"\\r': (?:command not found|No such file or directory)$")


def crlf_script(lines: Sequence[Line]) -> Optional[Hit]:
    """bash's (or coreutils') first complaint about a name ending in a carriage return."""
    return CRLF_SCRIPT(lines) if "\\r': " in joined(lines)[0] else None


GLIBC_LITERALS = ("(): ", "corrupt", "invalid fastbin entry", "*** ")   # one of them in every message

# glibc's assert() (assert/assert.c, __assert_fail_base: "%s%s%s:%u: %s%sAssertion `%s' failed.\n",
# the program's name and ": ", the file, the line, the function and ": ", the expression), then
# abort(): "python: .../aio.cpp:125: int f(long): Assertion `n >= m' failed." The literal found
# first, then the line's end and the ":LINE" before it; never a regex over the line's length.
ASSERT_LITERAL = re.compile(r": Assertion `")
ASSERT_WHERE = re.compile(r":\d{1,9}(?:: |$)")


def glibc_assert(lines: Sequence[Line]) -> Optional[Hit]:
    """The first line of glibc's assert() report: the cause of the abort that follows it."""
    output = output_lines(lines)
    for position in matching(output, ASSERT_LITERAL):
        text = output[position].text.rstrip()
        at = text.find(": Assertion `")
        if text.endswith("' failed.") and text[:1] not in " \t" and ASSERT_WHERE.search(text, 0, at):
            return Hit(output[position], tidy(text))
    return None


# The BSDs' and macOS's assert() (Apple Libc's and FreeBSD's __assert: "Assertion failed: (%s),
# function %s, file %s, line %d.\n", without the function where there is none) and musl's
# (src/exit/assert.c: "Assertion failed: %s (%s: %s: %d)\n"), then abort(): macOS's shell then says
# "Abort trap: 6". A paste may put a space before it.
BSD_ASSERT = re.compile(r"^\s{0,4}Assertion failed: (?:\(.{1,1000}?\), (?:function [^,\n]{1,300}, )?file [^\n]{1,1000},"
                        r" line \d{1,9}\.|.{1,1000}? \([^()\n]{1,1000}: [^()\n]{1,300}: \d{1,9}\))$")


def bsd_assert(lines: Sequence[Line]) -> Optional[Hit]:
    """The first line of the BSDs', macOS's or musl's assert() report: the cause of the abort after it."""
    line = first_line(output_lines(lines), BSD_ASSERT)
    return None if line is None else Hit(line, tidy(line.text))


# Rust's default allocation error hook (library/std/src/alloc.rs, default_alloc_error_hook: "memory
# allocation of {} bytes failed", then abort(); a program built here with rustc under `ulimit -v`
# prints it so): the host ran out of memory in a Rust library (HF tokenizers, safetensors, polars).
RUST_ALLOC = re.compile(r"^memory allocation of \d{1,20} bytes failed$")
# gperftools' tcmalloc reports every large allocation (src/tcmalloc.cc, ReportLargeAlloc: "tcmalloc:
# large alloc %llu bytes == %p @ " and the stack's addresses); one whose result is NULL, printf's
# "(nil)", failed: the host's memory (or its limit) ran out. Shown without the addresses.
TCMALLOC_FAILED = re.compile(r"tcmalloc: large alloc \d{1,20} bytes == \(nil\)")


def rust_alloc_failed(lines: Sequence[Line]) -> Optional[Hit]:
    """The first report of Rust's or tcmalloc's that an allocation failed: the host ran out of memory."""
    output = output_lines(lines)
    text = joined(output)[0]
    found = []
    if holds(text, "memory allocation of "):
        line = first_line(output, RUST_ALLOC)
        found.append(line and Hit(line, tidy(line.text)))
    if holds(text, "tcmalloc: large alloc "):
        line = first_line(output, TCMALLOC_FAILED)
        found.append(line and Hit(line, TCMALLOC_FAILED.search(line.text).group(0)))
    return earlier(*found)


def aborted(lines: Sequence[Line]) -> Optional[Hit]:
    """glibc's reason for an abort where it printed one (its heap checks, assert(); the BSDs' and
    musl's assert() too), else the first report of the abort."""
    text = joined(output_lines(lines))[0]
    glibc = GLIBC_ABORT(lines) if holds(text, *GLIBC_LITERALS) else None
    glibc = earlier(glibc, glibc_assert(lines) if holds(text, ": Assertion `") else None)
    glibc = earlier(glibc, bsd_assert(lines) if holds(text, "Assertion failed: ") else None)
    return glibc or earlier(ABORTED(lines), signal_hit(lines, "SIGABRT"))


# A signal's name in prose ("crashed due to SIGSEGV or other errors") is not a crash: the name
# counts where a report of one puts it. The English words count anywhere (a log line's end,
# a launcher's sentence): no program writes "Segmentation fault" in passing.
# TensorFlow's (TSL's) stack trace handler: "*** Received signal %d ***" (stacktrace_handler.cc), the
# signal's number alone (Linux's: 4, 7, 8, 11).
CRASH = (r"Segmentation fault|Bus error|Illegal instruction|Floating point exception"
         r"|\*\*\* Received signal (?:4|7|8|11) \*\*\*$"
         r"|(?:received|caught|got|signal:?|\*\*\*|\()[ \t]*SIG(?:SEGV|BUS|ILL|FPE)\b"
         r"|\bSIG(?:SEGV|BUS|ILL|FPE)\b\)?[ \t]*(?:received|caught|\(@)")
CRASH_SIGNALS = ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE")
SHARED_MEMORY = re.compile(r"shared memory|\bshm\b")
# faulthandler's "Fatal Python error: X" is the interpreter's death whatever X is (a refcount bug's
# "none_dealloc"), but an abort after an exception is the exception's (the generic rules').
FAULTHANDLER = re.compile(r"(?:^|\])Fatal Python error: (?!Aborted\b)(.+)$")
FAULT_THREAD = re.compile(r"^(?:Current thread 0x[0-9a-fA-F]+|Stack) \(most recent call first\):")
FAULT_FRAME = re.compile(r'^\s*File "(.+)", line (\d+) in (.+)$')
CRASH_LINE = re.compile(CRASH)
FAULT_DUMP = 200   # lines a faulthandler dump may take (a thread per line of a big pool, frames)


# torch's DataLoader worker's own handlers (torch/csrc/DataLoader.cpp, run here): "ERROR: Unexpected bus
# error encountered in worker. This might be caused by insufficient shared memory (shm).", "...
# segmentation fault ...", "... floating-point exception ...". The main process's RuntimeError after
# it names the signal and the worker: this counts only where a paste kept nothing else.
WORKER_SIGNAL = earliest(r"^ERROR: Unexpected (?:bus error|segmentation fault|floating-point exception)"
                         r" encountered in worker\.")


def native_crash(lines: Sequence[Line]) -> Optional[Hit]:
    """A segfault and kin: faulthandler's report with the innermost Python frame of the thread
    that crashed ("Current thread", not the first one listed), a shell's line; the DataLoader
    worker's own report where there is none of those."""
    hit = earlier(_crash_line(lines), signal_hit(lines, *CRASH_SIGNALS))
    if hit is None and holds(joined(lines)[0], " encountered in worker."):
        hit = WORKER_SIGNAL(lines)
    if hit is not None and SHARED_MEMORY.search(hit.error):
        # torch's DataLoader: "... is killed by signal: Bus error. It is possible that dataloader's
        # workers are out of shared memory."
        hit = hit._replace(hint=HINT_SHM)
    return hit


def _crash_line(lines: Sequence[Line]) -> Optional[Hit]:
    output = output_lines(lines)
    line = earlier_line(first_line(output, FAULTHANDLER), first_line(output, CRASH_LINE))
    if line is None:
        return None
    fatal = FAULTHANDLER.search(line.text)
    error = tidy(line.text[fatal.start():].lstrip("]")) if fatal else tidy(line.text)
    if fatal:
        position = lines.index(line)
        dump = [after for after in lines[position + 1:position + 1 + FAULT_DUMP]
                if after.rank == line.rank]
        start = next((at for at, after in enumerate(dump) if FAULT_THREAD.match(after.text)), None)
        frame = next((FAULT_FRAME.match(after.text) for after in dump[start + 1:start + 4]
                      if FAULT_FRAME.match(after.text)), None) if start is not None else None
        if frame:
            path, number, function = frame.groups()
            error += f" in {function} ({path}, line {number})"
    return Hit(line, error)
