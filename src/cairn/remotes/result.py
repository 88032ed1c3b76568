"""What a transfer did: counts, and the objects it could not move."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VerifyReport:
    checked: int = 0  # objects the remote claimed, downloaded and hashed
    damaged: list[str] = field(default_factory=list)  # their bytes did not match their ids
    lost: list[str] = field(default_factory=list)  # listed, but gone when read

    def to_dict(self) -> dict:
        return {"checked": self.checked, "damaged": self.damaged, "lost": self.lost}


@dataclass
class TransferResult:
    transferred: int = 0
    bytes: int = 0
    skipped: int = 0  # already there
    missing: list[str] = field(default_factory=list)  # wanted but nowhere to be had
    corrupt: list[str] = field(default_factory=list)
    requests: int = 0
    verified: VerifyReport | None = None  # push --verify

    def to_dict(self) -> dict:
        out = {
            "transferred": self.transferred,
            "bytes": self.bytes,
            "skipped": self.skipped,
            "missing": self.missing,
            "corrupt": self.corrupt,
        }
        if self.verified is not None:
            out["verify"] = self.verified.to_dict()
        return out
