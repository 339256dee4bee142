"""Profiles on disk and across ranks: the saved format, its checks, and gathering
ranks' profiles.
"""
