"""Synthetic demo data: an online store (customers, products, transactions, returns) with churn,
repeat purchases and seasonality, deterministic by seed, written as Parquet plus its graph YAML."""
