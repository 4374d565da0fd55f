"""Trading costs shared by both engines, in basis points of traded value."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CostModel(BaseModel):
    """Commission and slippage on each trade; on by default (1 bp + 5 bp)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    commission_bps: float = Field(1.0, ge=0, le=500)
    slippage_bps: float = Field(5.0, ge=0, le=500)

    @property
    def total_rate(self) -> float:
        return (self.commission_bps + self.slippage_bps) / 1e4
