"""Die Vorführung und ihr Werkzeug, eine eigene Anwendung über dem Bot: Wegwerf-Homeserver,
Menschen am Matrix-Client, Datenbestand in Menge – für `klimabot-demo`, Tests und Bank."""
