/*
 * kit-frames.js — the animation frame cap of a wall screen, loaded before ECharts.
 *
 * A wall PC without GPU raster composites the whole screen in software each frame that
 * something moves (a new case's ripple, a flow line's trail): at the display's 60 frames a
 * second that was half a core per open overview with a trickle of cases. Animation frames
 * (requestAnimationFrame: ECharts' effects, the pages' redraws) are therefore run at most ?fps=
 * times a second: default 30, 10 to 60; 60 leaves the browser's own rate. CSS transitions are
 * not affected.
 *
 * Still screens: where the viewer's system asks for reduced motion (prefers-reduced-motion, an
 * accessibility setting, also a low-power choice for a wall PC that shows one layout all day),
 * or the page is opened with ?motion=off, nothing moves for its own sake: the screens draw an
 * urgent or new case as a ringed marker instead of a ripple and a flow line without its moving
 * trail, charts change without transitions, and CSS animations stop (html.still, style.css).
 * ?motion=on keeps motion whatever the system asks. __zhiliFrames.motion says which applies.
 */
(function (root) {
  'use strict';
  const q = new URLSearchParams(root.location ? root.location.search : '');
  const asked = Number(q.get('fps'));
  const fps = Number.isFinite(asked) && asked > 0 ? Math.min(60, Math.max(10, asked)) : 30;
  const m = q.get('motion');
  const reduced = typeof root.matchMedia === 'function' && root.matchMedia('(prefers-reduced-motion: reduce)').matches;
  const motion = m === 'on' || (m !== 'off' && !reduced);
  root.__zhiliFrames = { fps, motion };
  if (!motion && root.document && root.document.documentElement) root.document.documentElement.classList.add('still');
  if (fps >= 60 || typeof root.requestAnimationFrame !== 'function') return;
  const raf = root.requestAnimationFrame.bind(root);
  const gap = 1000 / fps - 2; // a frame early is not worth waiting a whole display frame
  let queue = new Map();
  let next = 1;
  let pending = 0;
  let last = -Infinity;
  function nextFrame(ts) {
    pending = 0;
    if (ts - last < gap) {
      pending = raf(nextFrame);
      return;
    }
    last = ts;
    const run = queue;
    queue = new Map();
    for (const cb of run.values()) {
      try {
        cb(ts);
      } catch (err) {
        setTimeout(() => { throw err; });
      }
    }
  }
  root.requestAnimationFrame = function (cb) {
    const id = next++;
    queue.set(id, cb);
    if (!pending) pending = raf(nextFrame);
    return id;
  };
  root.cancelAnimationFrame = function (id) {
    queue.delete(id);
  };
})(typeof window !== 'undefined' ? window : globalThis);
