"""An iCalendar feed of one maintenance event, as a vendor's calendar would serve it."""

from __future__ import annotations

import time


def ics(uid: str, start: float, end: float, created: float) -> str:
    def stamp(t: float) -> str:
        return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))

    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:{stamp(created)}\r\nCREATED:{stamp(created)}\r\n"
        f"DTSTART:{stamp(start)}\r\nDTEND:{stamp(end)}\r\nSUMMARY:Upgrade\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
