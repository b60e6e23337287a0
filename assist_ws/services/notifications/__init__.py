"""Result notifications to the merchant, in parts: ``outbox`` (the merchant's settings and
the notifications each commit writes), ``delivery`` (the worker's pass: claim, send,
journal), ``queries`` (listings, one notification's journal, replay) and ``merchant`` (the
merchant's web services over ``queries``)."""
