"""Forecasting prosumers' half-hourly consumption and generation (thesis section 3.4, Fig. 3.4)."""
