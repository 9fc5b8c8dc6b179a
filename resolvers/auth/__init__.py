"""The authentication steps the flows share: opening a session once every factor is
proven (`signin`), asking again for the password or the second factor before a change
(`reauthentication`, `second_factor`), and answering a lockout (`lockout_answers`).
The modules beside this package are the flows themselves."""
