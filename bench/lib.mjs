// Helpers shared by the bench scripts (agents.mjs, fleet.mjs).
import fs from 'node:fs';

// CPU time of every thread of `pid`, in seconds, at nanosecond resolution (schedstat's first
// field; /proc/<pid>/stat counts in 10 ms ticks, too coarse for a 5% difference).
export function cpuSeconds(pid) {
  let ns = 0;
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return ns / 1e9;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
