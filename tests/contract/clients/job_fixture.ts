// Compiled by tests/contract/generated_clients.sh with `tsc --strict` against
// the types openapi-typescript generated from schemas/openapi.json (./api).
// A job as GET /jobs/{id} answers it, with its result; every read below
// has the result field's real type.
import type { components, paths } from "./api";

type Job = components["schemas"]["JobResource"];
type GetJob = paths["/jobs/{id}"]["get"]["responses"][200]["content"]["application/json"];
type Accepted =
    paths["/coaching/alignment-check"]["post"]["responses"][202]["content"]["application/json"];
type Sync =
    paths["/coaching/alignment-check"]["post"]["responses"][200]["content"]["application/json"];

export const job: GetJob = {
    jobId: "01920f3e-7c1a-7b3e-9f2d-5a6b7c8d9e0f",
    operation: "alignment-check",
    status: "succeeded",
    createdAt: "2024-09-12T14:03:21.512Z",
    finishedAt: "2024-09-12T14:03:24.120Z",
    attempts: 1,
    engine: { name: "builtin" },
    result: {
        alignmentScore: 78,
        explanation: "Fits the purpose; the KPIs measure revenue rather than outcomes.",
        suggestions: ["Add a KPI on system uptime"],
        componentScores: { intentAlignment: 82, strategyAlignment: 80, kpiRelevance: 68 },
        breakdown: { visionAlignment: 64, purposeAlignment: 88, valuesAlignment: 81 },
        lastUpdated: "2024-09-12T14:03:24.118Z",
    },
};

// The discriminator narrows the union to the alignment-check job.
export function score(j: Job): number | undefined {
    if (j.operation === "alignment-check" && j.result) {
        const s: number = j.result.alignmentScore;
        const kpi: number = j.result.componentScores.kpiRelevance;
        const first: string | undefined = j.result.suggestions[0];
        return first === undefined ? s : s + kpi * 0;
    }
    return undefined;
}

// The 202 of alignment-check is the alignment-check job itself.
export const accepted: Accepted = {
    jobId: "01920f3e-7c1a-7b3e-9f2d-5a6b7c8d9e0f",
    operation: "alignment-check",
    status: "queued",
    createdAt: "2024-09-12T14:03:21.512Z",
    attempts: 0,
};
export const vision: number | undefined = accepted.result?.breakdown.visionAlignment;

// The 200 envelope: data is the result.
export function explanation(r: Sync): string {
    return r.success ? r.data.explanation : "";
}
