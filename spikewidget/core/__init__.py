"""Plain building blocks every layer uses: errors, argument checks, input arrays,
number formatting.
"""
