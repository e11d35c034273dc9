// kit-map.js — the region maps' geometry (window.Zhili.map): the region tree from
// GET /api/v1/regions (GeoJSON), bounds, a projection with true proportions, ring tracing on a
// canvas, point-in-polygon and label placement (layoutLabels: greedy, by priority, with
// collision boxes, candidate positions and leader lines).
//
// Projection: equirectangular with a degree of longitude shortened by cos(latitude) at the
// middle of the bounds, so a county at 30° N keeps its shape (the overview's ECharts map uses the
// same factor as its aspectScale).
(function (root) {
  'use strict';
  const Zhili = root.Zhili || (root.Zhili = {});

  // polygonsOf returns the polygons of a GeoJSON (Multi)Polygon geometry.
  function polygonsOf(g) {
    if (!g) return [];
    if (g.type === 'Polygon') return [g.coordinates];
    if (g.type === 'MultiPolygon') return g.coordinates;
    return [];
  }

  // boundsOf returns [minX, minY, maxX, maxY] of a list of polygons, or null when empty.
  function boundsOf(polys) {
    let minX = 180, minY = 90, maxX = -180, maxY = -90;
    for (const poly of polys) {
      for (const ring of poly) {
        for (const c of ring) {
          if (c[0] < minX) minX = c[0];
          if (c[0] > maxX) maxX = c[0];
          if (c[1] < minY) minY = c[1];
          if (c[1] > maxY) maxY = c[1];
        }
      }
    }
    return minX <= maxX ? [minX, minY, maxX, maxY] : null;
  }

  // aspectOf is the length of a degree of longitude against one of latitude in the middle of
  // the bounds: cos(mid latitude).
  function aspectOf(b) {
    return b ? Math.cos(((b[1] + b[3]) / 2) * Math.PI / 180) || 1 : 1;
  }

  // projection fits bounds into a box {x, y, w, h} of pixels, centred, with true proportions.
  // It returns {k, ox, oy, aspect, project([lon, lat]) → [x, y], unproject(x, y) → [lon, lat]}.
  function projection(b, box) {
    const aspect = aspectOf(b);
    const bw = (b[2] - b[0]) * aspect || 1e-9;
    const bh = b[3] - b[1] || 1e-9;
    const k = Math.min(box.w / bw, box.h / bh);
    const ox = box.x + (box.w - bw * k) / 2;
    const oy = box.y + (box.h - bh * k) / 2;
    return {
      k, ox, oy, aspect,
      project: (c) => [ox + (c[0] - b[0]) * k * aspect, oy + (b[3] - c[1]) * k],
      unproject: (x, y) => [b[0] + (x - ox) / (k * aspect), b[3] - (y - oy) / k],
    };
  }

  // traceRing adds a closed ring to ctx's path; tracePolys every ring of polygons (fill with
  // 'evenodd' to leave the holes open).
  function traceRing(ctx, ring, project) {
    for (let i = 0; i < ring.length; i++) {
      const p = project(ring[i]);
      if (i === 0) ctx.moveTo(p[0], p[1]);
      else ctx.lineTo(p[0], p[1]);
    }
    ctx.closePath();
  }
  function tracePolys(ctx, polys, project) {
    for (const poly of polys) {
      for (const ring of poly) traceRing(ctx, ring, project);
    }
  }

  // strokeEach strokes each item's outline (items with .polys) in the current style.
  function strokeEach(ctx, items, project) {
    for (const it of items) {
      ctx.beginPath();
      tracePolys(ctx, it.polys, project);
      ctx.stroke();
    }
  }

  // glowOutline strokes a region's outline with the screens' cyan glow.
  function glowOutline(ctx, polys, project, dpr) {
    ctx.save();
    ctx.beginPath();
    tracePolys(ctx, polys, project);
    ctx.lineWidth = 3.5;
    ctx.strokeStyle = '#8cf0ff';
    ctx.shadowColor = 'rgba(47, 211, 255, 0.9)';
    ctx.shadowBlur = 18 * dpr;
    ctx.stroke();
    ctx.restore();
  }

  // inRing reports whether point p lies inside ring (even-odd crossing test).
  function inRing(p, ring) {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > p[1]) !== (yj > p[1]) && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }
  // inPolygons reports whether p lies in one of the polygons: inside its outer ring and in none
  // of its holes.
  function inPolygons(p, polys) {
    for (const poly of polys) {
      if (poly.length && inRing(p, poly[0]) && !poly.slice(1).some((hole) => inRing(p, hole))) return true;
    }
    return false;
  }
  function inGeometry(p, g) { return inPolygons(p, polygonsOf(g)); }

  // regionAt returns the first region of list ({bbox, polys}) holding point q, or null.
  function regionAt(q, list) {
    for (const r of list) {
      const b = r.bbox;
      if (b && (q[0] < b[0] || q[0] > b[2] || q[1] < b[1] || q[1] > b[3])) continue;
      if (inPolygons(q, r.polys)) return r;
    }
    return null;
  }

  // labelPoint returns the centroid of the largest outer ring of a (Multi)Polygon, in lon/lat.
  function labelPoint(g) {
    const rings = polygonsOf(g).map((p) => p[0]);
    let best = null;
    for (const ring of rings) {
      let a = 0, cx = 0, cy = 0;
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const f = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
        a += f;
        cx += (ring[j][0] + ring[i][0]) * f;
        cy += (ring[j][1] + ring[i][1]) * f;
      }
      if (a !== 0 && (!best || Math.abs(a) > best.a)) best = { a: Math.abs(a), p: [cx / (3 * a), cy / (3 * a)] };
    }
    return best ? best.p : rings[0][0];
  }

  // leastOverlap picks, among candidate top-left corners of a w×h box, the one overlapping the
  // boxes ([x, y, w, h]) least (the first of equals, within a pixel); null without candidates.
  function leastOverlap(cands, w, h, boxes) {
    let best = null;
    let least = Infinity;
    for (const [x, y] of cands) {
      let over = 0;
      for (const [bx, by, bw, bh] of boxes) {
        over += Math.max(0, Math.min(x + w, bx + bw) - Math.max(x, bx)) * Math.max(0, Math.min(y + h, by + bh) - Math.max(y, by));
      }
      if (over < least - 1) {
        least = over;
        best = [x, y];
      }
    }
    return best;
  }
  // boxesOverlap reports whether two boxes [x, y, w, h] share more than touching edges.
  function boxesOverlap(a, b) {
    return a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3];
  }

  // labelCandidates lists the top-left corners a label of item's size may take around its
  // anchor, best first: centred on the anchor (unless item.centre is false), then the eight
  // positions around it clear of the anchor's radius, then centred on each of item.spots
  // (other points where the label reads as the anchor's, e.g. inside the same region), then,
  // when item.leader is set, rings farther out (the label is then joined to its anchor by a
  // leader line).
  function labelCandidates(it, ringStep, rings) {
    const { x, y, w, h } = it;
    const out = [];
    if (it.centre !== false) out.push([x - w / 2, y - h / 2, false]);
    const g = (it.r || 0) + 3;
    const around = (d, lead) => {
      const e = d * 0.72;
      out.push([x + d, y - h / 2, lead], [x - d - w, y - h / 2, lead], [x - w / 2, y - d - h, lead], [x - w / 2, y + d, lead],
        [x + e, y - e - h, lead], [x - e - w, y - e - h, lead], [x + e, y + e, lead], [x - e - w, y + e, lead]);
    };
    around(g, false);
    for (const p of it.spots || []) out.push([p[0] - w / 2, p[1] - h / 2, false]);
    if (it.leader) {
      for (let k = 1; k <= rings; k++) {
        const d = g + k * ringStep;
        around(d, true);
        // Between the eight directions, from the second ring on.
        if (k > 1) {
          for (let a = 0; a < 8; a++) {
            const ang = (a + 0.5) * Math.PI / 4;
            const cx = x + Math.cos(ang) * (d + w / 2);
            const cy = y + Math.sin(ang) * (d + h / 2);
            out.push([cx - w / 2, cy - h / 2, true]);
          }
        }
      }
    }
    return out;
  }

  // nearestOnBox returns the point of box [x, y, w, h] nearest to p.
  function nearestOnBox(p, b) {
    return [Math.max(b[0], Math.min(p[0], b[0] + b[2])), Math.max(b[1], Math.min(p[1], b[1] + b[3]))];
  }

  // layoutLabels places labels greedily without overlaps: the items of highest priority first,
  // each at the first of its candidate positions (labelCandidates) that stays inside bounds and
  // clear of the obstacles and of every label already placed; an item with no such position is
  // dropped.
  //
  // items: [{id, x, y (anchor, pixels), w, h (label size), priority (higher first; ties keep
  //   the items' order), r (radius of the anchor's mark, kept clear when the label moves off
  //   it), centre (false: never centred on the anchor), spots ([[x, y]]: other centres to try,
  //   best first), leader (may move farther away, joined by a leader line)}].
  // opts: {bounds: [x0, y0, x1, y1], obstacles: [[x, y, w, h]] (marks, panels), pad (pixels kept
  //   free around each label, default 2), ringStep (distance between leader rings, default 28),
  //   rings (default 3)}.
  // Returns {placed: [{id, x, y, w, h, leader: [ax, ay, bx, by] | null}], dropped: [id]}, placed
  // in priority order; boxes of placed never overlap, nor the obstacles.
  function layoutLabels(items, opts) {
    const o = opts || {};
    const pad = o.pad === undefined ? 2 : o.pad;
    const bounds = o.bounds || null;
    const ringStep = o.ringStep || 28;
    const rings = o.rings === undefined ? 3 : o.rings;
    const taken = (o.obstacles || []).filter((b) => b && b[2] > 0 && b[3] > 0);
    const order = items.map((it, i) => [it, i])
      .sort((a, b) => (b[0].priority || 0) - (a[0].priority || 0) || a[1] - b[1]);
    const placed = [];
    const dropped = [];
    for (const [it] of order) {
      let spot = null;
      for (const c of labelCandidates(it, ringStep, rings)) {
        if (bounds && (c[0] < bounds[0] || c[1] < bounds[1] || c[0] + it.w > bounds[2] || c[1] + it.h > bounds[3])) continue;
        const box = [c[0] - pad, c[1] - pad, it.w + 2 * pad, it.h + 2 * pad];
        let free = true;
        for (const b of taken) {
          if (boxesOverlap(box, b)) { free = false; break; }
        }
        if (free) { spot = c; break; }
      }
      if (!spot) {
        dropped.push(it.id);
        continue;
      }
      const box = [spot[0], spot[1], it.w, it.h];
      let leader = null;
      if (spot[2]) {
        const q = nearestOnBox([it.x, it.y], box);
        leader = [it.x, it.y, q[0], q[1]];
      }
      taken.push([box[0] - pad, box[1] - pad, box[2] + 2 * pad, box[3] + 2 * pad]);
      placed.push({ id: it.id, x: box[0], y: box[1], w: it.w, h: it.h, leader });
    }
    return { placed, dropped };
  }

  // touching maps each region of list ({code, polys}) to the codes of the others that share at
  // least one vertex with it (queen contiguity as the server's hotspot weights build it for a
  // tiling; vertices compared to about 10 cm, 1e-6 degrees).
  function touching(list) {
    const at = new Map();
    for (const r of list) {
      for (const poly of r.polys) {
        for (const ring of poly) {
          for (const c of ring) {
            const k = Math.round(c[0] * 1e6) + ',' + Math.round(c[1] * 1e6);
            let s = at.get(k);
            if (!s) at.set(k, (s = new Set()));
            s.add(r.code);
          }
        }
      }
    }
    const out = new Map(list.map((r) => [r.code, new Set()]));
    for (const s of at.values()) {
      if (s.size < 2) continue;
      for (const a of s) for (const b of s) if (a !== b) out.get(a).add(b);
    }
    return out;
  }

  // awayFromSeam moves a coordinate v at least keep pixels away from a seam (a wall's monitor
  // edge), to the side it is on.
  function awayFromSeam(v, seam, keep) {
    return Math.abs(v - seam) < keep ? seam + (v < seam ? -keep : keep) : v;
  }

  // regionTree indexes a GeoJSON FeatureCollection of regions (polygons only): regions by code
  // ({code, name, parent, kind, level (0 at the tree's top), polys, geometry, bbox, feature}),
  // children by parent, the top's code and the deepest level.
  function regionTree(fc) {
    const features = ((fc && fc.features) || []).filter((f) => f && f.geometry && f.properties &&
      (f.geometry.type === 'Polygon' || f.geometry.type === 'MultiPolygon'));
    let top = Infinity;
    for (const f of features) top = Math.min(top, Number(f.properties.level) || 0);
    const regions = new Map();
    const kids = new Map();
    let first = null;
    let deepest = 0;
    for (const f of features) {
      const p = f.properties;
      const code = String(p.code);
      const polys = polygonsOf(f.geometry);
      const r = { code, name: p.name || code, parent: p.parent ? String(p.parent) : '', kind: p.kind || '',
        level: (Number(p.level) || 0) - top, polys, geometry: f.geometry, bbox: boundsOf(polys) || [180, 90, -180, -90], feature: f };
      regions.set(code, r);
      if (!first || r.level < first.level) first = r;
      deepest = Math.max(deepest, r.level);
    }
    for (const r of regions.values()) {
      if (r.parent && regions.has(r.parent)) {
        if (!kids.has(r.parent)) kids.set(r.parent, []);
        kids.get(r.parent).push(r.code);
      }
    }
    return {
      regions, kids, deepest,
      top: first ? first.code : '',
      name: (code) => (regions.has(code) ? regions.get(code).name : code),
      kidsOf: (code) => kids.get(code) || [],
    };
  }

  // loadRegionTree fetches the region tree under region (all levels) and calls onLoad with the
  // GeoJSON; on failure it calls onFail and retries with backoff up to backoffMax.
  function loadRegionTree(region, token, backoffMax, onLoad, onFail) {
    let delay = 1000;
    const load = () => {
      fetch(Zhili.apiURL('/api/v1/regions?root=' + encodeURIComponent(region) + '&depth=-1', token),
        { cache: 'no-cache', credentials: 'same-origin' })
        .then((r) => {
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return r.json();
        })
        .then(onLoad)
        .catch((err) => {
          console.warn('regions:', err);
          onFail(err);
          setTimeout(load, delay);
          delay = Math.min(backoffMax, delay * 2);
        });
    };
    load();
  }

  // canvasFor sizes canvas to w×h CSS pixels drawn at dpr device pixels each, clears it and
  // returns its 2D context with the identity transform (scale by dpr to draw in CSS pixels).
  function canvasFor(canvas, w, h, dpr) {
    const pw = Math.max(1, Math.round(w * dpr));
    const ph = Math.max(1, Math.round(h * dpr));
    if (canvas.width !== pw || canvas.height !== ph) {
      canvas.width = pw;
      canvas.height = ph;
    }
    canvas.style.width = w + 'px';
    canvas.style.height = h + 'px';
    const ctx = canvas.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, pw, ph);
    return ctx;
  }

  Zhili.map = {
    polygonsOf, boundsOf, aspectOf, projection, traceRing, tracePolys, strokeEach, glowOutline, inRing, inPolygons, inGeometry, regionAt,
    labelPoint, leastOverlap, boxesOverlap, labelCandidates, layoutLabels, touching, awayFromSeam, regionTree, loadRegionTree, canvasFor,
  };
})(typeof window !== 'undefined' ? window : globalThis);
