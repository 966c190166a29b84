"""Serving: the HTTP server, its fast scoring path, the prediction log and batch scoring.

``forgeml serve MODEL`` answers ``POST /predict`` with the version an alias points at,
validates every request against the version's input signature before the model runs, logs
every prediction durably, switches versions when the alias moves, and can shadow or canary
a challenger. ``forgeml predict`` scores files in bounded memory with the same rules.
"""
