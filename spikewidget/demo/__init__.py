"""The debugging story and the short demo: their network, their data and their scripts
(not the library).
"""
