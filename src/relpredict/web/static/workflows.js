// The workflows page: create a workflow from a trained model.
"use strict";

const workflowForm = document.getElementById("workflow-form");
if (workflowForm) {
  workflowForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(workflowForm);
    const body = { name: workflowForm.elements.name.value.trim(), model: workflowForm.elements.model.value };
    const { status, body: answer } = await api("POST", "/api/workflows", body);
    if (status === 201) {
      window.location.href = "/workflows/" + encodeURIComponent(answer.name);
      return;
    }
    showErrors(workflowForm, answer.errors, answer.detail);
  });
}
