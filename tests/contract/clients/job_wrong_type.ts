// Must NOT compile (tests/contract/generated_clients.sh checks that tsc
// rejects it with TS2322): alignmentScore is a number, not a string. If this
// compiled, `result` would be untyped again.
import type { components } from "./api";

export function wrong(j: components["schemas"]["AlignmentCheckJob"]): string {
    const s: string = j.result!.alignmentScore;
    return s;
}
