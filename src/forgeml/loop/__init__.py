"""The closed loop: watch a served model, retrain on new labelled data, roll out, promote.

:func:`~forgeml.loop.cycle.retrain` runs one resumable retraining cycle;
:func:`~forgeml.loop.rollouts.settle` decides a canary or shadow from its labels;
:func:`~forgeml.loop.daemon.tick` does what the policy asks now, and
:func:`~forgeml.loop.daemon.run_loop` ticks forever under a lease, so two loops on one
project never both retrain.
"""
