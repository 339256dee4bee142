"""Recording: validate what a training loop passes and fold it into the state, on the
host or the device.
"""
