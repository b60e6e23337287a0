"""The domain: money, orders, operations, transactions, the order state table, errors and ports.

Pure Python: nothing here imports a framework or another package of assist_ws.
"""
