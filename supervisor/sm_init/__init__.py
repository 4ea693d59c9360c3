"""sm-init: the init for SageMaker training and serving containers.

Run as ``ENTRYPOINT ["sm-init", "--"]``: SageMaker's ``train`` / ``serve`` become the configured
commands, signals reach the trainer, zombies are reaped, and a stop runs grace, pre-kill hooks and a
final sweep before Docker's SIGKILL.
"""

__version__ = "0.1.0"
