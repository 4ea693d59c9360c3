"""An HF ``Trainer`` job with DataLoader workers, for the launcher tests (CPU; under torchrun, gloo).

    hf_train.py --save DIR [--save-seconds S] [--workers N] [--worker-group own|inherit]
                [--fail-rank R] [--fail-step N]

A tiny BERT classifier built in code (no hub download), trained by ``transformers.Trainer`` with
``dataloader_num_workers=N`` until stopped. Every line starts with ``rank R`` (RANK, 0 alone):

- ``rank R worker W ready pid=P pgid=G`` from each DataLoader worker, ``rank R ready pid=P
  step=N`` after the first step;
- ``rank R got SIGNAME`` / ``rank R worker W got SIGNAME`` for each SIGTERM, SIGINT, SIGHUP,
  SIGQUIT, SIGUSR1 and SIGUSR2 (a worker then dies of a SIGTERM or SIGINT, as by default);
- a SIGTERM or SIGINT asks for a stop: a callback ends training at the step every rank agrees on
  (an all_reduce of the request), then each rank writes its final save, ``DIR/final-rankR.pt``
  (``--save-seconds`` long, to ``.tmp``, renamed when complete: ``rank R saved``) and exits 0;
- ``--fail-rank R --fail-step N``: rank R raises ValueError("rank R exploded") at step N.

``--worker-group own``: examples/loader_workers.py's recipe, chained before the Trainer's own
``worker_init_fn`` (its seeding), in a Trainer subclass. Lines, workers and the save are
launched.py's.
"""

import argparse
import os
import time

import torch
import torch.distributed as dist
import transformers

# The launcher tests' trainer, beside this file (a script's folder is first on sys.path): the same
# lines, signal reports, worker init and final save.
from launched import RANK, report_signals, save, say, worker_init

requested = []


class Sentences(torch.utils.data.Dataset):
    def __len__(self):
        return 256

    def __getitem__(self, index):
        return {"input_ids": torch.tensor([1 + (index + k) % 30 for k in range(8)]),
                "labels": torch.tensor(index % 2)}


class Trainer(transformers.Trainer):
    own_group = False

    def get_train_dataloader(self):
        loader = super().get_train_dataloader()
        # accelerate's wrapper iterates the DataLoader it wraps; workers start when the loop first
        # iterates it, so until then its init function may change.
        inner = getattr(loader, "base_dataloader", loader)
        inner.worker_init_fn = worker_init("own" if self.own_group else "inherit", inner.worker_init_fn)
        return loader


class StopOnSignal(transformers.TrainerCallback):
    def __init__(self, fail_rank, fail_step):
        self.fail_rank, self.fail_step = fail_rank, fail_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 1:
            say(f"ready pid={os.getpid()} step=1")
        if RANK == self.fail_rank and state.global_step == self.fail_step:
            raise ValueError(f"rank {RANK} exploded")
        flag = torch.tensor([1.0 if requested else 0.0])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)   # every rank stops at the same step
        if flag.item() > 0:
            control.should_training_stop = True
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--save", required=True)
    parser.add_argument("--save-seconds", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-group", choices=["own", "inherit"], default="inherit")
    parser.add_argument("--fail-rank", type=int)
    parser.add_argument("--fail-step", type=int, default=1)
    args = parser.parse_args()

    report_signals(requested)

    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=16,
                                     max_position_embeddings=16, num_labels=2)
    model = transformers.BertForSequenceClassification(config)
    training = transformers.TrainingArguments(
        output_dir=os.path.join(args.save, "trainer"), max_steps=10 ** 6, per_device_train_batch_size=4,
        dataloader_num_workers=args.workers, save_strategy="no", logging_strategy="no", report_to=[],
        disable_tqdm=True, use_cpu=True, ddp_backend="gloo" if "WORLD_SIZE" in os.environ else None)
    Trainer.own_group = args.worker_group == "own"
    trainer = Trainer(model=model, args=training, train_dataset=Sentences(),
                      callbacks=[StopOnSignal(args.fail_rank, args.fail_step)])
    trainer.train()
    save(args, trainer.model)


if __name__ == "__main__":
    main()
