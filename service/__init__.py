"""Onshi: online health-insurance eligibility verification (オンライン資格確認), マイナ保険証 model."""

__version__ = "0.1.0"
