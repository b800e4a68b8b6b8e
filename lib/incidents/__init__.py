"""Incidents: every Signal's one path. Dedup, open, upgrade, resolve, acknowledge and
escalate in Lua (one round trip each), then deliver what was claimed.

Open first: engine.py (apply, sweep, acknowledge, resolve; lua/apply.lua is the state
machine). inhibit.py mutes the symptoms of an open cause (lua/inhibit_lib.lua, inside
apply and sweep). dispatch.py decides, then sends the claimed deliveries after the response;
messages.py words them.
May import: the core, lib.store, lib.channels.
"""
