"""The words a launcher or a shell prints when its child failed (``LAUNCHER_REPORT`` and the
fields of its boxes, ``COMMAND_NOT_FOUND`` in bash's and dash's locales): patterns only. The
tracebacks need them (a launcher's sentence is no exception's message), reports finds them.

Imports lines only.
"""

import re

from .lines import printable


# Launchers' own reports ----------------------------------------------------------------------------

# What a launcher or wrapper says when its child failed, when nothing of the child's own is in the
# tail: Open MPI's (orte/tools/orterun/help-orterun.txt: "exited on signal", the "exited with
# non-zero status" box and its fields, "exiting improperly"; MPI_ABORT), MPICH's Hydra (its "BAD
# TERMINATION" box, "YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Killed (signal 9)",
# "application called MPI_Abort"), DeepSpeed's launcher, torchrun's own line, the SageMaker training
# toolkit, Ray's reports of a dead worker or actor, an IDE's "Process finished with exit code", a
# shell (a command not found, a script it cannot parse), python.
# bash's "%s: command not found" (execute_cmd.c) in the locales whose signal words are known, as
# bash.mo's msgstr has it (Debian's bash 5.2; the line number before it is translated too, and
# differs between versions: "第 10 行：", "行 10:"); dash's "%s: %d: %s: not found" (exec.c's
# "%s: not found" after its script and line; older ones name the script twice).
COMMAND_NOT_FOUND = {"zh_CN": "%s: 未找到命令", "zh_TW": "%s：指令找不到", "ja": "%s: コマンドが見つかりません",
                     "ko": "%s: 명령어를 찾을 수 없음", "de": "%s: Kommando nicht gefunden.",
                     "fr": "%s\xa0: commande introuvable", "es": "%s: orden no encontrada",
                     "ru": "%s: команда не найдена", "pt_BR": "%s: comando não encontrado",
                     "it": "%s: comando non trovato"}
# Other releases' msgstr for it where they differ: bash 5.0's and 5.1's po/zh_CN.po, a full-width colon
# ("%s：未找到命令"; "%s：行 %d: " before it; 4.x and 5.2 have "%s: 未找到命令").
COMMAND_NOT_FOUND_OLDER = ("%s：未找到命令",)
# As the cleaned line ends (an odd space is a space).
NOT_FOUND_WORDS = tuple(printable(words.replace("%s", "")).lstrip()
                        for words in (*COMMAND_NOT_FOUND.values(), *COMMAND_NOT_FOUND_OLDER))
# dash's form; tried only on a line that ends so.
DASH_NOT_FOUND = re.compile(r": \d+: (?:[^:\n]{1,300}: )?[^:\n]{1,300}: not found$")
# bash's report of a file a script's line could not open or run (redir.c's redirection_error and
# error.c's file_error: "%s: %s", the file and strerror()), "x.sh: line 25: data.tfrecord: Permission
# denied", in the same locales: glibc's strerror() words for EACCES and ENOENT (its po/ files, Debian's
# libc-l10n), after bash's translated "%s: line %d: " (error.c's error_prolog; po/*.po of bash 4.1 to
# 5.2, and 5.3's "%s:" _(" line ") "%d: ": zh_CN "%s: 行 %d: ", 5.0's and 5.1's "%s：行 %d: ", 5.2's
# "%s: 第 %d 行：", zh_TW "%s: 第 %d 列：", ja "%s: %d 行: ", fr "%s : ligne %d : ", pt_BR "%s, linha
# %d: "). The English form is LAUNCHER_REPORT's. A script's error, its last line: only when nothing
# else is reported, as the English one.
STRERROR_WORDS = ("权限不够", "没有那个文件或目录",                                  # zh_CN
                  "拒絕不符權限的操作", "沒有此一檔案或目錄",                         # zh_TW
                  "許可がありません", "そのようなファイルやディレクトリはありません",       # ja
                  "허가 거부", "그런 파일이나 디렉터리가 없습니다",                    # ko
                  "Keine Berechtigung", "Datei oder Verzeichnis nicht gefunden",   # de
                  "Permission non accordée", "Aucun fichier ou dossier de ce type",  # fr
                  "Permiso denegado", "No existe el fichero o el directorio",        # es
                  "Отказано в доступе", "Нет такого файла или каталога",            # ru
                  "Permissão negada", "Arquivo ou diretório inexistente",            # pt_BR
                  "Permesso negato", "File o directory non esistente")               # it
SCRIPT_LINE = re.compile(r"(?: ?: |：|, )(?:第 \d{1,7} [行列]：|\d{1,7} 行: "
                         r"|(?:行|列|줄|Zeile|ligne|línea|строка|linha|riga) \d{1,7} ?: )")
# Such a line's end: one test (str.endswith) before the pattern.
STRERROR_ENDS = tuple(": " + words for words in STRERROR_WORDS)
# Whether a tail holds any of them: a test for each (a search at C speed), apart from
# LAUNCHER_REPORT, whose every position each alternative more would cost.
NOT_FOUND = NOT_FOUND_WORDS + (": not found",) + STRERROR_ENDS
NOT_FOUND_ASCII = tuple(words for words in NOT_FOUND if words.isascii())   # all an ASCII tail can hold


def _not_found(text: str) -> bool:
    """A shell's complaint that it found no command, in the forms LAUNCHER_REPORT leaves out."""
    return text.endswith(NOT_FOUND_WORDS) or (text.endswith(": not found") and bool(DASH_NOT_FOUND.search(text)))


def _translated_complaint(text: str) -> bool:
    """bash's translated report of a file its script could not open (STRERROR_WORDS), or _not_found's."""
    return _not_found(text) or (text.endswith(STRERROR_ENDS) and bool(SCRIPT_LINE.search(text, 0, 400)))


# Every alternative starts with a literal, and those sharing a first character share a branch: a
# line is skipped at C speed up to the characters that can start one, and each of those tries few.
LAUNCHER_REPORT = re.compile(
    r"noticed that process rank \d+ [^.]{0,300}exited on"          # Open MPI
    r"|ex(?:ited on signal \d+|ited due to process rank \d+"         # Open MPI
    r"|ited with code [1-9]\d*"                                       # docker compose
    r"|its with return code = -?\d+)"                                # DeepSpeed
    r"|detected that one or more processes exited with non-zero"     # Open MPI, Horovod
    r"|MPI_ABORT was invoked on rank|called MPI_Abort\("              # Open MPI, MPICH
    r"|T(?:ERMINATED WITH THE EXIT STRING:"                          # MPICH
    r"|he actor (?:is dead because its \w+(?: process)? has died|died unexpectedly)"     # Ray
    r"|he kernel appears to have died|he Kernel crashed while executing code"   # Jupyter, VS Code
    r"|ERM_[A-Z]+: job killed)"                                       # LSF ("TERM_RUNLIMIT: ...")
    # Ray's node (its monitor's words in 2018's releases, the GCS's detector's later).
    r"|has been marked dead because the (?:detector|monitor) has missed too many heartbeats"
    r"|make(?:\[\d+\])?: \*\*\* \[[^\]\n]{0,300}\] Error \d+"             # make
    r"|was unable to find the specified executable"                  # Open MPI
    # Open MPI's boxes for a child it could not exec or start (help-orterun.txt, mpirun 4.1 run here:
    # "... as it could not access or execute an executable:", "... as it encountered an error:").
    r"|mpirun was unable to (?:launch|start) the specified application as it"
    # python -m NAME with no such module (runpy: "%s: %s" % (sys.executable, error), python run here);
    # the name first, then what may not precede it: a branch that starts with a literal keeps re's
    # first-character skip for the whole pattern.
    r"|python(?<=(?<![\w-])python)[\d.]{0,5}: (?:No module named |Error while finding module specification for )"
    r"|There are not enough slots available in the system to satisfy"   # Open MPI (mpirun -np 64)
    # Open MPI's and PRRTE's refusal to run as root without --allow-run-as-root (orterun.c's and
    # prte's schizo root_error_msg: "%s has detected an attempt to run as root.", the tool's name
    # first; mpirun 4.1 run here as root, exit 1): the usual first failure of mpirun in a container.
    r"|has detected an attempt to run as root\."
    # Open MPI's errmgr box for a daemon it has no route to (help-errmgr-base.txt [no-path]: "ORTE does
    # not know how to route a message to the specified daemon\nlocated on the indicated node:").
    r"|does not know how to route a message to the specified daemon"
    # Slurm's step daemon that could not exec the task's program (slurmstepd's exec_task: "error:
    # execve(): %s: %m"), before srun's report of the task's exit: it says why.
    r"|slurmstepd: error: execve\(\): "
    # Fujitsu MPI's launcher (plexec on Fugaku and PRIMEHPC): "[WARN] PLE 0608 plexec One of MPI
    # processes was aborted.(rank=0)...".
    r"|plexec One of MPI processes was aborted"
    # pdsh's report of its remote command's exit (DeepSpeed's multi-node runner: "pdsh@HOST: NODE: ssh
    # exited with exit code 255"); ssh's own error for that node above it says why (reports.py).
    r"|pdsh@[\w.-]{1,200}: [\w.-]{1,200}: \w{1,20} exited with exit code [1-9]\d*"
    # ssh's own error, the launch agent's (a launcher's multi-node start: pdsh's "node1: " before it):
    # a complaint (reports.py), as a script may survive a probe of a host.
    r"|ssh: connect to host \S{1,253} port \d{1,5}: "
    r"|BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES"         # MPICH
    r"|failed (?:\(exitcode: -?\d+\) local_rank: \d+"                # torchrun
    # Open MPI's box for its own start-up that failed inside the process (help-mpi-runtime.txt's,
    # help-orte-runtime.txt's, help-opal-runtime.txt's, help-shmem-runtime.txt's
    # [..._init:startup:internal-failure]: "It looks like %s failed for some reason; your parallel
    # process is\nlikely to abort. ...", then the failed call indented, "  ompi_mpi_init:
    # ompi_rte_init failed", and "  --> Returned ..."): the call's words below are its detail.
    r"|for some reason; your parallel process is)"
    # torchrun's agent told to stop (torch/distributed/elastic/agent/server/api.py, run(): a
    # SignalException logged as "Received %s death signal, shutting down workers", the signal's
    # number, or its enum's name on a Python before 3.11; torchrun run here, sent SIGHUP).
    r"|Received (?:\d{1,2}|Signals\.SIG[A-Z]{2,6}) death signal, shutting down workers"
    # Open MPI's report of an MPI call before MPI_Init, then its abort (libmpi 4.1 called so here).
    r"|\*\*\* The \w{1,60}\(\) function was called before MPI_INIT was invoked"
    # Ray's node daemon died (dashboard/agent.py's report_raylet_error_logs: "Raylet is terminated. "
    # then "Termination is unexpected. Possible reasons include: ..." where raylet.out holds no
    # SIGTERM; the driver's worker.py prints it, older ones with "ip=..., id=..." first).
    r"|Raylet is terminated(?:\.|: ip=[\w.:-]{1,60}, id=\w{1,64}\.) Termination is unexpected"
    # SageMaker's training toolkit (sagemaker-containers, sagemaker-training: _errors.py's
    # _CalledProcessError, whose str() is "Name:\nCommand \"cmd\"...", logged at ERROR when the
    # user's script, its module's pip install or its requirements.txt failed).
    r"|ExecuteUserScriptError|Install(?:Module|Requirements)Error"
    r"|P(?:rocess finished with exit code -?[1-9]"                    # PyCharm
    # horovodrun's gloo launcher (horovod/runner/gloo_run.py, _exec_command: "Process {idx} exit with
    # status code {ec}." for a rank whose command failed, before its RuntimeError).
    r"|rocess \d{1,7} exit with status code -?[1-9]\d*\.$"
    r"|RTE has lost communication with (?:a remote|its) daemon\b"    # PRRTE (Open MPI 5)
    r"|BS: job killed: )"                                             # PBS ("walltime 3611 exceeded ...")
    r"|Your session crashed"                                         # Colab
    # Slurm: the scheduler ended the job ("*** JOB 7 ON node1 CANCELLED AT 2024-01-12T19:26:34 DUE
    # TO TIME LIMIT ***", also PREEMPTION, NODE FAILURE), srun's "task 0: Exited with exit code 1".
    r"|CANCELLED AT \S+ DUE TO|: tasks? [\d,-]+: Exited with exit code \d+"
    r"|A(?: worker died or was killed while executing"                # Ray
    r"|n ORTE daemon has unexpectedly failed after launch"           # Open MPI (help-errmgr-base.txt)
    # Open MPI's (PRRTE's) out-of-band TCP component that could not reach a peer (oob_tcp_connection.c:
    # "A process or daemon was unable to complete a TCP connection\nto another process:", the hosts
    # below), printed before the box of daemons that never called back, which it explains.
    r"| process or daemon was unable to complete a TCP connection)"
    # Open MPI's box for daemons it could not start on the other nodes (help-errmgr-base.txt's
    # [failed-daemon-launch]; mpirun 4.1 run here with an rsh agent that fails).
    # Its (PRRTE's, Open MPI 5's "PRTE") box for a daemon that went away after it started
    # (help-errmgr-base.txt's [node-died], "ORTE has lost communication with its daemon located on
    # node:"; later releases' "... with a remote daemon.", the HNP's and the daemon's names below,
    # which Open MPI's users match in their own scripts): the job ends there.
    r"|ORTE (?:was unable to reliably start one or more daemons|has lost communication with (?:a remote|its) daemon\b)"
    r"|Workers \(tasks / actors\) killed due to memory pressure"     # Ray
    # CircleCI's report of a step whose command failed, a line of its own ("Exited with code exit
    # status 137", older "Exited with code 137", then "CircleCI received exit code 137": its
    # users' pastes in their issues); the words first, the line's start after them.
    r"|Exited with code (?<=^Exited with code )(?:exit status )?[1-9]\d*$"
    r"|CircleCI received exit code (?<=^CircleCI received exit code )[1-9]\d*$"
    # horovodrun's task server that would not start on a host (horovod/run/run.py, later
    # horovod/runner/driver/driver_service.py, _launch_task_servers: "Launching horovod[run] task
    # function was not successful:\n{host_output}", then os._exit): the host's output, ssh's, below it.
    r"|Launching horovod(?:run)? task function was not successful:"
    # Flyte's report of a task's pod (flyteplugins' pod_helper.go, DemystifyFailure: "[%v] terminated
    # with exit code (%v). Reason [%v]. Message: \n%v.", the container, its code, the kubelet's reason);
    # its words first, the bracket before them after (a line of brackets costs nothing).
    r"|terminated with exit code \((?<=\] terminated with exit code \()-?[1-9]\d*\)\. Reason \["
    r"|can't open file '[^']{0,4096}': \[Errno \d+\]"                 # python
    # A shell: a command it cannot find or run, and its parser giving up on a script (bash's parse.y:
    # "syntax error near unexpected token `('", dash's "Syntax error: "(" unexpected"): the
    # script ends there.
    # bash's set -u ("run.sh: line 126: cuda_cmd: unbound variable", subst.c's err_unboundvar): it exits.
    # A bash-only expansion under dash (sh script.sh: "script.sh: 5: Bad substitution", older dash
    # naming the script twice; dash run here): the script stops there. (bash's own "${x;}: bad
    # substitution" fails only that command: the script goes on.)
    # make before 4.3's own "%s: Command not found" (job.c) for a recipe's command it execs itself.
    r"|: (?:[Cc]ommand not found$|No such file or directory$|Permission denied$|unbound variable$|Bad substitution$"
    r"|syntax error near unexpected"
    r" token|[Ss]yntax error: |cannot execute binary file|exec format error)")
DAEMONS_NOT_STARTED = re.compile(r"ORTE was unable to reliably start|An ORTE daemon has unexpectedly failed")
STARTUP = re.compile(r"can't open file|command not found|No such file or directory")
# A shell's complaint that a script survives (a missing nvidia-smi on its first line): only when no
# launcher reported anything else; then the last one, closest to the exit it may explain.
# (Slurm's step daemon's "slurmstepd: error: execve(): X: No such file or directory" is a report: its
# strerror makes it look like one.)
COMPLAINT = re.compile(r"^(?!slurmstepd: error: execve\(\): ).*: (?:[Cc]ommand not found|No such file or directory"
                       r"|Permission denied)$"
                       r"|(?:^|: )ssh: connect to host \S{1,253} port \d{1,5}: ")
# ... but not a compiler driver's error about a file ("g++: error: x.cu.o: No such file or directory",
# gcc's "cc1plus: fatal error: x.h: No such file or directory"): a build's, after what left it unbuilt.
COMPILER_FILE_ERROR = re.compile(r"^(?:[\w.]{1,60}-)?(?:gcc|g\+\+|c\+\+|cc|clang(?:\+\+)?|cc1(?:plus)?|nvcc|ld|collect2)"
                                 r"(?:-\d{1,3}(?:\.\d{1,3})*)?: (?:fatal )?error: ")
# ... but not an option run as a command ("train.sh: line 6: --do_train: command not found"): the
# continuation line of a command that failed before it (its "\" lost: a space after it, a CR LF),
# bash's or dash's, where the one above said why.
OPTION_RUN = re.compile(r"(?:^|: )-[^\s:]*: (?:command )?not found$")
SIGNAL_NINE = re.compile(r"signal 9\b|return code = -9\b|exitcode: -9\b|\(Killed\)|EXIT CODE: 9\b|SIGNAL: 9\b"
                         r"|memory pressure \(OOM\)|Killed \(signal 9\)|code 137\b|code \(137\)|exit status 137\b")
MPICH_BOX = re.compile(r"^=+\s+")   # the left edge of MPICH's box
# MPICH's "=   EXIT CODE: 9"; Intel MPI's "=   KILLED BY SIGNAL: 9 (Killed)".
MPICH_EXIT = re.compile(r"^=\s+(?:EXIT CODE: -?\d+|KILLED BY SIGNAL: \d+(?: \([^)]{1,40}\))?)\s*$")
# The fields of Open MPI's boxes ("  Process name: [[29973,1],0]", "  Exit code:    1").
REPORT_FIELD = re.compile(r"^\s{0,4}(?:Process name|Exit code|Executable|Node|Error name):\s+\S")
REPORT_LINES = 4     # lines a wrapped report's sentence may run on for
INIT_FAILED = re.compile(r"It looks like (\S{1,60}) failed for some reason; your parallel process is")
INIT_DETAIL_LINES = 12   # lines from the box's first to the failed call below "developer):"
