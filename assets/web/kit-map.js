// kit-map.js — the region maps' geometry (window.Zhili.map): the region tree from
// GET /api/v1/regions (GeoJSON), bounds, a projection with true proportions, ring tracing on a
// canvas, point-in-polygon and label placement.
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
    labelPoint, leastOverlap, awayFromSeam, regionTree, loadRegionTree, canvasFor,
  };
})(typeof window !== 'undefined' ? window : globalThis);
