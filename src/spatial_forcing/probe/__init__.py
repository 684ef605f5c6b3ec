"""Probes of a frozen student's visual tokens: a DPT-style depth probe and a ridge probe of object positions
(`sf probe`)."""
