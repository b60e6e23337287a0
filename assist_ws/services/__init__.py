"""Use cases: module-level functions over the ports of ``assist_ws.domain.ports``.

Each state change is one unit of work (one database transaction).  A use case that talks to a
processing center records its intent (a transaction in state ``sent``) and commits *before*
the call, then records the answer in a second unit of work: a crash in between leaves a
``sent`` transaction that ``resolve_unknown`` settles by asking the center.
"""
