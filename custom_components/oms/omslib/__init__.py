"""OMS / M-Bus protocol library (EN 13757-2/-3/-4/-7, OMS Vol2). No Home Assistant imports.

Entry points: :class:`Decoder` / :func:`decode` turn received bytes into a
:class:`Telegram`; every failure is an :class:`OmsError` subclass.
"""
