// Validates deploy/k8s/*.yaml offline: every document against the
// Kubernetes OpenAPI schema bundled in the npm package kubernetes-models
// (ajv), then the cross-references a schema cannot see (selectors, ports,
// HPA target, probes, resources, non-root).  Run by deploy/k8s/validate.sh.
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");

const kinds = {
  "apps/v1/Deployment": () => require("kubernetes-models/apps/v1/Deployment").Deployment,
  "v1/Service": () => require("kubernetes-models/v1/Service").Service,
  "autoscaling/v2/HorizontalPodAutoscaler": () =>
    require("kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler").HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": () => require("kubernetes-models/policy/v1/PodDisruptionBudget").PodDisruptionBudget,
};

const dir = process.argv[2] || __dirname;
const docs = [];
let errors = 0;
const fail = (msg) => { console.error("FAIL " + msg); errors++; };

for (const f of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
  for (const doc of yaml.loadAll(fs.readFileSync(path.join(dir, f), "utf8"))) {
    if (!doc) continue;
    const key = `${doc.apiVersion}/${doc.kind}`;
    const where = `${f}: ${doc.kind} ${doc.metadata && doc.metadata.name}`;
    if (!kinds[key]) { fail(`${where}: no schema for ${key}`); continue; }
    try {
      const Model = kinds[key]();
      new Model(doc).validate();
      console.log(`ok   ${where} (schema ${key})`);
    } catch (e) {
      fail(`${where}: ${e.message}`);
    }
    docs.push(doc);
  }
}

const find = (kind) => docs.filter((d) => d.kind === kind);
const matches = (sel, labels) => Object.entries(sel || {}).every(([k, v]) => labels[k] === v);
for (const dep of find("Deployment")) {
  const n = dep.metadata.name, tpl = dep.spec.template;
  if (!matches(dep.spec.selector.matchLabels, tpl.metadata.labels)) fail(`Deployment ${n}: selector does not match the pod labels`);
  for (const c of tpl.spec.containers) {
    const ports = new Set((c.ports || []).map((p) => p.name).concat((c.ports || []).map((p) => p.containerPort)));
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const p = c[probe];
      if (!p || !p.httpGet) { fail(`Deployment ${n}/${c.name}: no ${probe} httpGet`); continue; }
      if (!ports.has(p.httpGet.port)) fail(`Deployment ${n}/${c.name}: ${probe} port ${p.httpGet.port} is not a container port`);
    }
    if (c.readinessProbe && c.readinessProbe.httpGet.path !== "/ready") fail(`Deployment ${n}: readinessProbe should use /ready`);
    if (c.livenessProbe && c.livenessProbe.httpGet.path !== "/health") fail(`Deployment ${n}: livenessProbe should use /health`);
    const r = c.resources || {};
    for (const k of ["cpu", "memory"]) {
      if (!r.requests || !r.requests[k]) fail(`Deployment ${n}/${c.name}: no ${k} request (the HPA needs cpu)`);
      if (!r.limits || !r.limits[k]) fail(`Deployment ${n}/${c.name}: no ${k} limit`);
    }
    const sc = Object.assign({}, tpl.spec.securityContext, c.securityContext);
    if (!sc.runAsNonRoot || !(sc.runAsUser > 0)) fail(`Deployment ${n}/${c.name}: must run as a non-root uid`);
  }
  const svcs = find("Service").filter((s) => matches(s.spec.selector, tpl.metadata.labels));
  if (!svcs.length) fail(`Deployment ${n}: no Service selects its pods`);
  for (const s of svcs) for (const p of s.spec.ports) {
    const names = tpl.spec.containers.flatMap((c) => (c.ports || []).flatMap((q) => [q.name, q.containerPort]));
    if (!names.includes(p.targetPort)) fail(`Service ${s.metadata.name}: targetPort ${p.targetPort} not exposed by the pods`);
  }
  if (!find("HorizontalPodAutoscaler").some((h) => h.spec.scaleTargetRef.kind === "Deployment" && h.spec.scaleTargetRef.name === n))
    fail(`Deployment ${n}: no HorizontalPodAutoscaler targets it`);
}
for (const h of find("HorizontalPodAutoscaler")) {
  if (h.spec.minReplicas > h.spec.maxReplicas) fail(`HPA ${h.metadata.name}: minReplicas > maxReplicas`);
  if (!find("Deployment").some((d) => d.metadata.name === h.spec.scaleTargetRef.name)) fail(`HPA ${h.metadata.name}: target not found`);
}
console.log(errors ? `${errors} problem(s)` : `all ${docs.length} documents valid`);
process.exit(errors ? 1 : 0);
