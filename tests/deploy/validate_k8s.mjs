// Validates Kubernetes manifests without a cluster: each YAML document
// against the OpenAPI schema of its apiVersion and kind, as packaged by
// kubernetes-models (built-in kinds) and @kubernetes-models/keda (KEDA's
// CRDs). Those schemas allow unknown fields, as the API server's pruning
// does; a misspelt field would then pass unseen, so each document is also
// checked for fields the schema never looked at (see strictFields).
//
//   node validate_k8s.mjs FILE.yaml...
// Prints "ok FILE: KIND NAME" per document, or "not ok FILE: ..." with the
// reasons; exit status 0 only if every document passed.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const PACKAGES = {
    "keda.sh": "@kubernetes-models/keda/keda.sh",
};

async function modelFor(apiVersion, kind) {
    const slash = apiVersion.indexOf("/");
    const group = slash < 0 ? "" : apiVersion.slice(0, slash);
    const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
    const base = PACKAGES[group] ?? (group ? `kubernetes-models/${group}` : "kubernetes-models");
    const path = `${base}/${version}/${kind}`;
    try {
        const module = await import(path);
        return module[kind];
    } catch (error) {
        throw new Error(`no schema for ${apiVersion} ${kind} (${path}): ${error.message}`);
    }
}

// The schemas are compiled ajv validators: they read each property they
// know by name, and enumerate the keys of an object only where any key is
// allowed (maps such as labels). So every key of an object that the
// validator neither read nor enumerated is one the schema does not have.
function tracked(value, path, seen) {
    if (value === null || typeof value !== "object")
        return value;
    const info = { path, value, read: new Set(), enumerated: false };
    seen.push(info);
    const copy = Array.isArray(value)
        ? value.map((item, i) => tracked(item, `${path}[${i}]`, seen))
        : Object.fromEntries(Object.entries(value).map(
            ([key, item]) => [key, tracked(item, `${path}.${key}`, seen)]));
    return new Proxy(copy, {
        get(target, key, receiver) {
            if (typeof key === "string")
                info.read.add(key);
            return Reflect.get(target, key, receiver);
        },
        has(target, key) {
            if (typeof key === "string")
                info.read.add(key);
            return Reflect.has(target, key);
        },
        ownKeys(target) {
            info.enumerated = true;
            return Reflect.ownKeys(target);
        },
    });
}

function strictFields(seen) {
    const unknown = [];
    for (const info of seen) {
        if (Array.isArray(info.value) || info.enumerated)
            continue;
        for (const key of Object.keys(info.value))
            if (!info.read.has(key))
                unknown.push(`${info.path}.${key}`.replace(/^\./, ""));
    }
    return unknown;
}

async function validate(doc) {
    if (!doc || typeof doc !== "object" || !doc.apiVersion || !doc.kind)
        throw new Error("not a Kubernetes object (no apiVersion and kind)");
    const Model = await modelFor(doc.apiVersion, doc.kind);
    const seen = [];
    const object = tracked(doc, "", seen);
    try {
        Model.prototype.validate.call(object);
    } catch (error) {
        throw new Error(`schema: ${error.message}`);
    }
    const unknown = strictFields(seen);
    if (unknown.length)
        throw new Error(`fields the schema does not have: ${unknown.join(", ")}`);
    if (!doc.metadata?.name)
        throw new Error("metadata.name is missing");
}

let failed = 0;
for (const file of process.argv.slice(2)) {
    const docs = parseAllDocuments(readFileSync(file, "utf8"));
    for (const parsed of docs) {
        if (parsed.errors.length) {
            failed++;
            console.log(`not ok ${file}: YAML: ${parsed.errors.map(e => e.message).join("; ")}`);
            continue;
        }
        const doc = parsed.toJS();
        if (doc === null)
            continue;
        try {
            await validate(doc);
            console.log(`ok ${file}: ${doc.kind} ${doc.metadata.name}`);
        } catch (error) {
            failed++;
            console.log(`not ok ${file}: ${doc?.kind ?? "?"} ${doc?.metadata?.name ?? "?"}: ${error.message}`);
        }
    }
}
process.exit(failed ? 1 : 0);
