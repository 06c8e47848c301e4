// Validates deploy/kserve/*.yaml offline: ServingRuntime and InferenceService
// against the subset of KServe's CRD schemas in crd-subset.json (ajv), the
// runtime's containers and volumes against the Kubernetes schemas of the npm
// package kubernetes-models, then what KServe needs of an inferd runtime:
// protocol v2, the model read from /mnt/models and named after the
// InferenceService, probes on /v2/health/*, the InferenceService pointing at
// this runtime with a model format it supports.  Run by validate.sh.
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");
const Ajv = require("ajv");
const { Container } = require("kubernetes-models/v1/Container");
const { Volume } = require("kubernetes-models/v1/Volume");

const dir = process.argv[2] || __dirname;
const schemas = JSON.parse(fs.readFileSync(path.join(dir, "crd-subset.json"), "utf8"));
const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat("int32", { type: "number", validate: (x) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31 });
ajv.addFormat("int64", { type: "number", validate: (x) => Number.isInteger(x) });
let errors = 0;
const fail = (msg) => { console.error("FAIL " + msg); errors++; };
const docs = [];

for (const f of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
  for (const doc of yaml.loadAll(fs.readFileSync(path.join(dir, f), "utf8"))) {
    if (!doc) continue;
    const where = `${f}: ${doc.kind} ${doc.metadata && doc.metadata.name}`;
    const schema = schemas[doc.kind];
    if (!schema) { fail(`${where}: no schema for ${doc.apiVersion}/${doc.kind}`); continue; }
    const validate = ajv.compile(schema);
    if (!validate(doc)) { fail(`${where}: ${ajv.errorsText(validate.errors)}`); continue; }
    try {
      for (const c of (doc.spec.containers || [])) new Container(c).validate();
      for (const v of (doc.spec.volumes || [])) new Volume(v).validate();
    } catch (e) { fail(`${where}: ${e.message}`); continue; }
    console.log(`ok   ${where} (schema ${doc.apiVersion}/${doc.kind})`);
    docs.push(doc);
  }
}

const runtimes = docs.filter((d) => d.kind === "ServingRuntime");
for (const rt of runtimes) {
  const n = rt.metadata.name, s = rt.spec;
  if (!(s.protocolVersions || []).includes("v2")) fail(`ServingRuntime ${n}: protocolVersions lacks v2`);
  const c = s.containers[0];
  if (c.name !== "kserve-container") fail(`ServingRuntime ${n}: the serving container must be named kserve-container`);
  const args = (c.args || []).join(" ");
  if (!/--model[= ]\/mnt\/models\//.test(args)) fail(`ServingRuntime ${n}: --model must read from /mnt/models (the storage initializer's mount)`);
  if (!/--model-name[= ]\{\{\.Name\}\}/.test(args)) fail(`ServingRuntime ${n}: --model-name should be {{.Name}} (the InferenceService's name)`);
  const port = (/--port[= ](\d+)/.exec(args) || [])[1];
  const ports = (c.ports || []).map((p) => String(p.containerPort));
  if (!port || !ports.includes(port)) fail(`ServingRuntime ${n}: --port ${port} is not a container port`);
  for (const [probe, want] of [["startupProbe", /^\/v2\/health\/ready$/], ["readinessProbe", /^\/v2\/health\/ready$/], ["livenessProbe", /^\/v2\/health\/live$/]]) {
    const p = c[probe];
    if (!p || !p.httpGet) { fail(`ServingRuntime ${n}: no ${probe}`); continue; }
    if (!want.test(p.httpGet.path)) fail(`ServingRuntime ${n}: ${probe} should use ${want.source.replace(/[\\^$]/g, "")}`);
    if (String(p.httpGet.port) !== port) fail(`ServingRuntime ${n}: ${probe} port ${p.httpGet.port} is not the server's port`);
  }
  const r = c.resources || {};
  for (const k of ["cpu", "memory"]) if (!r.requests || !r.requests[k] || !r.limits || !r.limits[k]) fail(`ServingRuntime ${n}: ${k} request and limit needed (autoscaling on cpu)`);
  if (!(c.securityContext && c.securityContext.runAsNonRoot)) fail(`ServingRuntime ${n}: must run as non-root`);
}
for (const isvc of docs.filter((d) => d.kind === "InferenceService")) {
  const n = isvc.metadata.name, p = isvc.spec.predictor, m = p.model || {};
  if (!/^[A-Za-z0-9_.-]{1,63}$/.test(n)) fail(`InferenceService ${n}: its name becomes inferd's model_name and must be [A-Za-z0-9_.-]{1,63}`);
  const rt = runtimes.find((r) => r.metadata.name === m.runtime);
  if (!rt) { fail(`InferenceService ${n}: runtime ${m.runtime} not found`); continue; }
  if (!(rt.spec.supportedModelFormats || []).some((f) => f.name === m.modelFormat.name && (!m.modelFormat.version || f.version === m.modelFormat.version)))
    fail(`InferenceService ${n}: runtime ${m.runtime} does not support model format ${m.modelFormat.name}`);
  if (m.protocolVersion && !(rt.spec.protocolVersions || []).includes(m.protocolVersion)) fail(`InferenceService ${n}: protocol ${m.protocolVersion} not offered by ${m.runtime}`);
  if (!m.storageUri) fail(`InferenceService ${n}: no storageUri (the model file comes from storage)`);
  if (p.minReplicas > p.maxReplicas) fail(`InferenceService ${n}: minReplicas > maxReplicas`);
}
console.log(errors ? `${errors} problem(s)` : `all ${docs.length} documents valid`);
process.exit(errors ? 1 : 0);
