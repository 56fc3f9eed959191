/**
 * An image whose execute target holds until its `release` input is set: a run of it stays Executing, each machine
 * blocked in `ss-get`, for as long as a test needs (to kill its agent, its host or its server meanwhile).
 */
export const HOLDING_IMAGE = `kind: image
parameters:
  - { name: release, category: input, description: set to let the script finish }
targets:
  execute: |
    #!/bin/sh
    ss-display holding
    ss-get --timeout 300 release
`;

/** The same image with a report target that leaves a note in the instance's report. */
export const HOLDING_IMAGE_WITH_REPORT = `${HOLDING_IMAGE}  report: |
    #!/bin/sh
    echo "report of $SLIPSTREAM_NODE_INSTANCE_NAME" > "$SLIPSTREAM_REPORT_DIR/note.txt"
`;
