"""Wake-Sleep, AEVB and the bound L_k, built on nn/."""
from algorithms.aevb import AEVB, aevb_objective
from algorithms.bound import importance_weighted_bound, log_importance_weights
from algorithms.iwae import IWAE, iwae_objective
from algorithms.model import HelmholtzMachine
from algorithms.rws import ReweightedWakeSleep, rws_wake_objective
from algorithms.wake_sleep import WakeSleep, dream, sleep_objective, wake_objective
