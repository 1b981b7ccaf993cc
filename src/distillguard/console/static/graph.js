// The campaign's account graph: accounts and the tokens linking them, drawn with Cytoscape.js.
// Data comes from the page (a JSON script element), never from an inline script.
(function () {
  "use strict";
  var holder = document.getElementById("graph");
  var source = document.getElementById("graph-data");
  var panel = document.getElementById("graph-panel");
  if (!holder || !source || typeof cytoscape === "undefined") { return; }
  var data = JSON.parse(source.textContent || "{}");
  var elements = [];
  var tokens = {};
  (data.accounts || []).forEach(function (a) {
    elements.push({ data: { id: "a:" + a, label: a, kind: "account", account: a } });
  });
  (data.edges || []).forEach(function (e, i) {
    var account = e[0], kind = e[1], token = String(e[2]);
    var id = "t:" + kind + ":" + token;
    if (!tokens[id]) {
      tokens[id] = true;
      elements.push({ data: { id: id, label: kind, full: kind + ": " + token, kind: "token" } });
    }
    elements.push({ data: { id: "e" + i, source: "a:" + account, target: id, kind: kind } });
  });
  var cy = cytoscape({
    container: holder,
    elements: elements,
    layout: { name: "cose", animate: false, randomize: false, nodeRepulsion: 40000, idealEdgeLength: 90, padding: 20 },
    minZoom: 0.3,
    maxZoom: 4,
    style: [
      { selector: "node[kind = 'account']", style: { "background-color": "#b2182b", label: "data(label)", "font-size": 6, "text-valign": "bottom", "text-margin-y": 2, width: 12, height: 12 } },
      { selector: "node[kind = 'token']", style: { shape: "round-rectangle", "background-color": "#4575b4", label: "data(label)", "font-size": 5, "text-valign": "top", "text-margin-y": -2, width: 8, height: 8, color: "#555" } },
      { selector: "edge", style: { width: 1, "line-color": "#bbb" } },
      { selector: ":selected", style: { "border-width": 3, "border-color": "#000" } }
    ]
  });
  function show(node) {
    var account = node.data("account");
    while (panel.firstChild) { panel.removeChild(panel.firstChild); }
    var h = document.createElement("h3");
    h.textContent = account;
    panel.appendChild(h);
    var list = document.createElement("ul");
    node.connectedEdges().forEach(function (edge) {
      var li = document.createElement("li");
      li.textContent = cy.getElementById(edge.data("target")).data("full");
      list.appendChild(li);
    });
    if (!list.firstChild) {
      var none = document.createElement("li");
      none.textContent = "no drawn token links it";
      list.appendChild(none);
    }
    panel.appendChild(list);
    var link = document.createElement("a");
    link.href = "/account/" + encodeURIComponent(account);
    link.textContent = "Open account";
    link.id = "graph-open";
    panel.appendChild(link);
  }
  cy.on("tap", "node[kind = 'account']", function (evt) { show(evt.target); });
  // the page may move once its images have loaded: re-read where the graph's box is
  window.addEventListener("load", function () { cy.resize(); });
  window.dgGraph = cy; // for tests and the curious
})();
