"""Learning-rate schedules of the training loop (train.lr_schedule): the step schedule of the
video configs (train.lr_steps, lr_factor), the cosine schedule (lr decays to 0 along half a
cosine over train.epochs), either after a linear warm-up of train.warmup_epochs, and, for the
pose configs and the multitask action runs, the plateau schedule of Luvizon et al. 2018
(Appendix B: lr x 0.2 when the validation score plateaus), which can also end the stage when the
score stagnates (train.stop_patience; Appendix B: "When validation accuracy stagnates, we divide
the final learning rate by 10 and fine tune")."""
import math


def lr_at(train_cfg, epoch, step=0, steps=1):
    """lr of step ``step`` (of ``steps``) of ``epoch``. step: lr x lr_factor for every one of
    train.lr_steps the epoch has reached; cosine: lr x (1 + cos(pi x e / epochs)) / 2 at the
    step's start e = epoch + step / steps. Over the first train.warmup_epochs, the result is
    scaled by the share of the warm-up done at the step's end, so the first step is not at 0."""
    t = train_cfg
    if t.get("lr_schedule", "step") == "cosine":
        done = min((epoch + step / steps) / t["epochs"], 1.0)
        lr = t["lr"] * 0.5 * (1.0 + math.cos(math.pi * done))
    else:
        lr = t["lr"] * t["lr_factor"] ** sum(epoch >= s for s in t["lr_steps"])
    warmup = t.get("warmup_epochs", 0) or 0
    if warmup > 0:
        lr *= min(1.0, (epoch * steps + step + 1) / (warmup * steps))
    return lr


class Plateau:
    """lr x ``factor`` once the validation score (lower is better) has not improved for
    ``patience`` epochs in a row, as Keras's ReduceLROnPlateau (the cvpr18 code's framework);
    the count restarts after each reduction. With ``stop`` (epochs), the stage ends once the
    score has not improved for that many epochs since its best, as Keras's EarlyStopping (that
    count does not restart with a reduction); the epoch that ends it lowers no lr, so ``lr`` is
    then the last lr trained with. Its state lives in the epoch's metrics, so a resumed run
    continues it (``from_metrics``)."""

    def __init__(self, lr, factor, patience, best=math.inf, wait=0, stop=None, since_best=0):
        self.lr, self.factor, self.patience, self.best, self.wait = lr, factor, patience, best, wait
        self.stop, self.since_best = stop, since_best

    @property
    def stopped(self):
        return self.stop is not None and self.since_best >= self.stop

    def update(self, score):
        if score < self.best:
            self.best, self.wait, self.since_best = score, 0, 0
            return
        self.wait += 1
        self.since_best += 1
        if self.stopped:
            return
        if self.wait >= self.patience:
            self.lr, self.wait = self.lr * self.factor, 0

    def state(self):
        state = dict(val_best=self.best, val_wait=self.wait, lr_next=self.lr,
                     val_since_best=self.since_best)
        if self.stopped:
            state["stopped"] = True
        return state

    @classmethod
    def from_metrics(cls, metrics, factor, patience, stop=None):
        return cls(metrics["lr_next"], factor, patience, metrics["val_best"], metrics["val_wait"],
                   stop, metrics.get("val_since_best", 0))


def plateau_of(train_cfg, validate, resumed_metrics):
    """The Plateau of a run with train.lr_schedule plateau (continued from the resumed epoch's
    metrics; train.stop_patience its stop), else None."""
    t = train_cfg
    if t.get("lr_schedule", "step") != "plateau":  # the video configs have only the step one
        return None
    if validate is None:
        raise ValueError("train.lr_schedule plateau needs a validation score, and this run "
                         "computes none")
    stop = t.get("stop_patience")
    if resumed_metrics is not None:
        return Plateau.from_metrics(resumed_metrics, t["lr_factor"], t["lr_patience"], stop)
    return Plateau(t["lr"], t["lr_factor"], t["lr_patience"], stop=stop)
