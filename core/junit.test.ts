import { describe, expect, it } from "vitest";
import { MAX_CASES_PER_SUITE, parseJunit, renderJunit, totals } from "./junit.js";

const SUREFIRE = `<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.example.WebTest" tests="3" failures="1" errors="0" skipped="1" time="0.52">
  <testcase name="servesData" classname="com.example.WebTest" time="0.1"/>
  <testcase name="welcome" classname="com.example.WebTest" time="0.2">
    <failure message="expected &lt;Welcome&gt; but was &lt;nothing&gt;" type="AssertionError">at WebTest.java:12
at Runner.java:3</failure>
  </testcase>
  <testcase name="later" classname="com.example.WebTest"><skipped/></testcase>
</testsuite>`;

const NESTED = `<testsuites>
  <testsuite name="outer">
    <testsuite name="inner-a"><testcase name="a1"/><testcase name="a2"><error>boom
second line</error></testcase></testsuite>
    <testsuite name="inner-b" tests="1"><testcase name="b1"/></testsuite>
  </testsuite>
  <testsuite name="pytest" errors="0" failures="1" skipped="0" tests="1">
    <testcase classname="tests.test_http" name="test_get" time="0.003"><failure message="assert 404 == 200"/></testcase>
  </testsuite>
</testsuites>`;

describe("parseJunit reads the dialects CIs write", () => {
  it("a bare <testsuite> (Maven surefire): counts, messages from attributes, details from text", () => {
    const [s, ...rest] = parseJunit(SUREFIRE) ?? [];
    expect(rest).toEqual([]);
    expect(s).toMatchObject({ name: "com.example.WebTest", tests: 3, failures: 1, errors: 0, skipped: 1, time: 0.52 });
    expect(s.cases.map((c) => [c.name, c.status])).toEqual([
      ["servesData", "passed"],
      ["welcome", "failed"],
      ["later", "skipped"],
    ]);
    expect(s.cases[1].message).toBe("expected <Welcome> but was <nothing>");
    expect(s.cases[1].details).toBe("at WebTest.java:12\nat Runner.java:3");
  });

  it("nested suites are flattened; counts missing from the file are counted from its cases; a message-less error takes its first line", () => {
    const suites = parseJunit(NESTED) ?? [];
    expect(suites.map((s) => [s.name, s.tests, s.failures, s.errors])).toEqual([
      ["inner-a", 2, 0, 1],
      ["inner-b", 1, 0, 0],
      ["pytest", 1, 1, 0],
    ]);
    expect(suites[0].cases[1]).toMatchObject({ status: "error", message: "boom" });
    expect(totals(suites)).toEqual({ tests: 4, failures: 1, errors: 1, skipped: 0 });
  });

  it("is null for XML that is not JUnit, and for text that is not XML; never throws", () => {
    expect(parseJunit(`<?xml version="1.0"?><project><modelVersion>4</modelVersion></project>`)).toBeNull();
    expect(parseJunit("not xml at all")).toBeNull();
    expect(() => parseJunit("<testsuite><testcase name='x'><failure>")).not.toThrow();
    expect(parseJunit("<testsuites></testsuites>")).toEqual([]);
  });

  it(`keeps at most ${MAX_CASES_PER_SUITE} cases of a suite, and the file's own count`, () => {
    const many = Array.from({ length: MAX_CASES_PER_SUITE + 10 }, (_, i) => `<testcase name="t${i}"/>`).join("");
    const [s] = parseJunit(`<testsuite name="big" tests="${MAX_CASES_PER_SUITE + 10}">${many}</testsuite>`) ?? [];
    expect(s.cases).toHaveLength(MAX_CASES_PER_SUITE);
    expect(s.tests).toBe(MAX_CASES_PER_SUITE + 10);
  });
});

describe("renderJunit writes what parseJunit (and a CI) reads back", () => {
  it("round-trips names, statuses and messages with markup and quotes in them", () => {
    const xml = renderJunit({
      name: 'run "1" <x>',
      suites: [
        {
          name: "a & b",
          tests: 3,
          failures: 1,
          errors: 1,
          skipped: 0,
          time: 1.5,
          properties: { "slipstream.run": "r1" },
          cases: [
            { name: "apache.1", classname: "m.apache", time: null, status: "passed", message: null, details: null },
            {
              name: "client.1",
              classname: "m.client",
              time: 0.25,
              status: "failed",
              message: `could not download "data.txt" from <http://x/>`,
              details: "line 1\n]]> line 2",
              systemOut: "report: client.1_report_x.tgz",
            },
            { name: "db.1", classname: "m.db", time: null, status: "error", message: "lost", details: null },
          ],
        },
      ],
    });
    expect(xml).toContain('<testsuites name="run &quot;1&quot; &lt;x&gt;" tests="3" failures="1" errors="1"');
    expect(xml).toContain('<property name="slipstream.run" value="r1"/>');
    const [s] = parseJunit(xml) ?? [];
    expect(s.name).toBe("a & b");
    expect(s.cases.map((c) => [c.name, c.status, c.message])).toEqual([
      ["apache.1", "passed", null],
      ["client.1", "failed", `could not download "data.txt" from <http://x/>`],
      ["db.1", "error", "lost"],
    ]);
    expect(s.cases[1].details).toBe("line 1\n]]> line 2");
  });

  it("drops the characters XML cannot carry (a log tail's colour codes), so the file stays readable", () => {
    const xml = renderJunit({
      name: "r",
      suites: [
        {
          name: "s",
          tests: 1,
          failures: 1,
          errors: 0,
          skipped: 0,
          time: null,
          cases: [
            {
              name: "c",
              classname: "",
              time: null,
              status: "failed",
              message: "m",
              details: "\u001b[31mred\u001b[0m\u0000",
            },
          ],
        },
      ],
    });
    expect(xml.includes("\u0000") || xml.includes("\u001b")).toBe(false);
    expect(parseJunit(xml)?.[0].cases[0].details).toBe("[31mred[0m");
  });
});
