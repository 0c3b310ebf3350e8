"""Learning-rate schedules: functions of the epoch (1, 2, ...) that every learning rate is multiplied by in that epoch,
chosen by --lr-schedule. The training loop sets each optimizer's rate to its initial one times the factor at the start
of an epoch (and of a resumed one), so a schedule is all a run needs to know of it. Adding one is a function here and
its name in settings.py's --lr-schedule."""


def constant(epoch, settings):
    return 1.0


def decay(epoch, settings):
    """10^(-(epoch - 1) / T), T = --lr-decay-epochs: tenfold smaller every T epochs, a summable schedule (the factors of
    all epochs add up to 1 / (1 - 10^(-1/T)), about T / ln 10 + 1/2 epochs at the initial rate;
    derivations/wake-sleep-diagnosis.md says why Wake-Sleep wants that)."""
    return 10 ** (-(epoch - 1) / settings.lr_decay_epochs)


def drop(epoch, settings):
    """1 up to epoch --lr-drop-epoch, 1/10 after it, so that the last epochs take smaller steps about the point the
    constant rate reached (derivations/likelihoods.md measures what that buys)."""
    return 1.0 if epoch <= settings.lr_drop_epoch else 0.1


def iwae(epoch, settings):
    """The IWAE paper's schedule (Burda, Grosse and Salakhutdinov 2015, section 5): 10^(-i/7) in stage i, which lasts
    3^i epochs: epoch 1 is stage 0, epochs 2-4 stage 1, 5-13 stage 2, 14-40 stage 3, 41-121 stage 4, ...; the paper
    stops after stage 7."""
    stage, last_epoch_of_stage = 0, 1
    while epoch > last_epoch_of_stage:
        stage += 1
        last_epoch_of_stage += 3 ** stage
    return 10 ** (-stage / 7)


SCHEDULES = {"constant": constant, "decay": decay, "drop": drop, "iwae": iwae}
