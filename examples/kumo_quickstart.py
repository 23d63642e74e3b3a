"""Kumo's SDK quickstart, run by relpredict on the demo store: only the imports differ from a
kumoai script (``import kumoai as kumo`` → ``import relpredict.kumoai as kumo``).

    relpredict demo-data demo-data --customers 2000
    DEMO_STORE=demo-data .venv/bin/python examples/kumo_quickstart.py

``DEMO_STORE`` is the folder or ``s3://`` prefix holding the demo store's tables (for S3, the
endpoint and keys come from the standard AWS variables); ``OUTPUT_ROOT`` (optional) a folder or
prefix the predictions are written to; ``RUN_MODE`` the model plan's run mode (``fast``: LightGBM
only); ``RELPREDICT_HOME`` the workspace.
"""

import os

import relpredict.kumoai as kumo
from relpredict.kumoai.artifact_export.config import OutputConfig

# Initialize the SDK (the URL is the relpredict server the tracking URLs point at):
kumo.init(url=os.environ.get("KUMO_URL", "http://127.0.0.1:8000/api"), api_key=os.environ.get("KUMO_API_KEY"))

# Connect to the source data:
connector = kumo.S3Connector(root_dir=os.environ.get("DEMO_STORE", "demo-data"))
print(f"Tables: {connector.table_names()}")
print(connector["customers"].head())

# Create tables from the source tables, with their keys and time columns:
customers = kumo.Table.from_source_table(
    source_table=connector.table("customers"),
    primary_key="customer_id",
    time_column="signup_time",
).infer_metadata()

products = kumo.Table.from_source_table(
    source_table=connector.table("products"),
    primary_key="product_id",
).infer_metadata()

transactions = kumo.Table.from_source_table(
    source_table=connector.table("transactions"),
    primary_key="transaction_id",
    time_column="timestamp",
).infer_metadata()
transactions["channel"].stype = "categorical"
print(transactions.metadata)

# Link the tables into a graph:
graph = kumo.Graph(
    tables={
        "customers": customers,
        "products": products,
        "transactions": transactions,
    },
    edges=[
        dict(src_table="transactions", fkey="customer_id", dst_table="customers"),
        dict(src_table="transactions", fkey="product_id", dst_table="products"),
    ],
)
graph.validate(verbose=True)

# Write a predictive query: which active customers will not buy in the next 30 days?
pquery = kumo.PredictiveQuery(
    graph=graph,
    query=(
        "PREDICT COUNT(transactions.*, 0, 30, days) = 0 "
        "FOR EACH customers.customer_id "
        "WHERE COUNT(transactions.*, -60, 0, days) > 0"
    ),
)
pquery.validate(verbose=True)
print(f"Task type: {pquery.get_task_type()}")

# Train a model:
model_plan = pquery.suggest_model_plan(run_mode=os.environ.get("RUN_MODE", "normal"))
trainer = kumo.Trainer(model_plan)
training_job = trainer.fit(
    graph=graph,
    train_table=pquery.generate_training_table(non_blocking=True),
    non_blocking=False,
)
print(f"Training metrics: {training_job.metrics()}")

# Predict for every active customer, writing predictions and embeddings:
output_root = os.environ.get("OUTPUT_ROOT")
prediction_job = trainer.predict(
    graph=graph,
    prediction_table=pquery.generate_prediction_table(non_blocking=True),
    output_config=OutputConfig(
        output_types={"predictions", "embeddings"},
        output_connector=kumo.S3Connector(root_dir=output_root) if output_root else None,
        output_table_name="churn_predictions",
    ),
    training_job_id=training_job.job_id,
    binary_classification_threshold=0.5,
    num_workers=2,
    non_blocking=True,
)
print(f"Tracking URL: {prediction_job.tracking_url}")
result = prediction_job.attach()

# Read the results:
print(f"Batch prediction job summary: {result.summary()}")
print(result.predictions_df().head())
print(result.embeddings_df().head())
