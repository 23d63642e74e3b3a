// The workflow page: the Run Batch Prediction Job dialog. Settings are checked by the API (the
// CLI's validation) before the job is submitted; each message appears next to its field.
"use strict";

const dialog = document.getElementById("job-dialog");
const jobForm = document.getElementById("job-form");

function destinationKind() {
  return jobForm.querySelector("input[name=dest_kind]:checked").value;
}

/** Show the destination fields of the chosen kind only, with fitting placeholders and connectors. */
function showDestination() {
  const kind = destinationKind();
  jobForm.querySelectorAll("[data-kinds]").forEach((el) => {
    el.hidden = !el.dataset.kinds.split(" ").includes(kind);
  });
  const path = document.getElementById("dest_path");
  path.placeholder = path.dataset["placeholder" + (kind === "s3" ? "S3" : "Local")] || "";
  document.getElementById("dest_path_label").textContent = kind === "s3" ? "S3 URL" : "Path";
  const table = document.getElementById("dest_table");
  table.placeholder = table.dataset["placeholder" + (kind === "snowflake" ? "Snowflake" : "Bigquery")] || "";
  const connector = document.getElementById("dest_connector");
  connector.querySelectorAll("option[data-kind]").forEach((opt) => {
    opt.hidden = opt.dataset.kind !== kind;
  });
  if (connector.selectedOptions[0] && connector.selectedOptions[0].hidden) connector.value = "";
}

function value(id) {
  const el = document.getElementById(id);
  return el && !el.disabled ? el.value : "";
}

/** The dialog's values as the API's job settings (blank fields: the CLI's defaults). */
function settingsFromForm() {
  const kind = destinationKind();
  const text = (id) => value(id).trim() || null;
  return {
    anchor_time: text("anchor_time"),
    threshold: numberOrText(value("threshold")),
    num_classes: numberOrText(value("num_classes")),
    top_k: numberOrText(value("top_k")),
    output_types: Array.from(jobForm.querySelectorAll("input[name=output_types]:checked")).map((el) => el.value),
    metadata_fields: Array.from(jobForm.querySelectorAll("input[name=metadata_fields]:checked")).map((el) => el.value),
    destination: {
      kind,
      path: ["local", "s3"].includes(kind) ? text("dest_path") : null,
      file_type: ["local", "s3"].includes(kind) ? text("dest_file_type") : null,
      connector: kind === "local" ? null : text("dest_connector"),
      table: ["snowflake", "bigquery"].includes(kind) ? text("dest_table") : null,
      overwrite: kind === "local" && document.getElementById("dest_overwrite").checked,
    },
    workers: numberOrText(value("workers")),
    dask: text("dask"),
    entity_filter: text("entity_filter"),
    entities: text("entities"),
    shard_size: numberOrText(value("shard_size")),
    partition_size_mb: numberOrText(value("partition_size_mb")),
    sample_cap_mb: numberOrText(value("sample_cap_mb")),
  };
}

async function submitJob(event) {
  event.preventDefault();
  clearErrors(jobForm);
  const button = document.getElementById("submit-job");
  button.disabled = true;
  try {
    const url = "/api/workflows/" + encodeURIComponent(jobForm.dataset.workflow);
    const settings = settingsFromForm();
    const check = await api("POST", url + "/check", settings);
    if (check.status !== 200) {
      showErrors(jobForm, check.body.errors, check.body.detail);
      return;
    }
    const run = await api("POST", url + "/jobs", settings);
    if (run.status === 201) {
      window.location.href = "/jobs/" + encodeURIComponent(run.body.id);
      return;
    }
    showErrors(jobForm, run.body.errors, run.body.detail);
  } finally {
    button.disabled = false;
  }
}

if (dialog) {
  document.getElementById("run-job").addEventListener("click", () => {
    showDestination();
    dialog.showModal();
  });
  document.getElementById("cancel-dialog").addEventListener("click", () => dialog.close());
  jobForm.querySelectorAll("input[name=dest_kind]").forEach((el) => el.addEventListener("change", showDestination));
  jobForm.addEventListener("submit", submitJob);
  showDestination();
}
