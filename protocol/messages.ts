/** The longest abort message kept (the run page, events, `ss:abort`). */
const MAX_MESSAGE = 4096;

/**
 * A message made to fit `max` characters: unchanged when it fits, else its beginning (what failed, where) and the
 * end of its text (a last stderr line ends with what matters), with how much was cut between them. A failing script
 * must abort its run whatever it printed: a message is cut, never refused.
 */
export function fitMessage(text: string, max = MAX_MESSAGE): string {
  if (text.length <= max) return text;
  const head = Math.min(300, Math.floor(max / 4));
  const marker = (n: number) => ` […${n} characters cut…] `;
  const tail = max - head - marker(text.length).length;
  return `${text.slice(0, head)}${marker(text.length - head - tail)}${text.slice(text.length - tail)}`;
}
