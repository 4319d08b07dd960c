// Package api holds the structured results of bpm's MCP tools, shared by the
// server and the console.
//
// The JSON shapes here are what bpm sends; the server fills them and the
// console decodes them, so neither needs the other's code.
package api

// ConsoleClientName is the client name bpm's own console (bpm tui)
// announces; its read-only polling is not activity.
const ConsoleClientName = "bpm-tui"

// ClockLayout is how line and event times are written, in tool texts and in
// LineOut: UTC wall-clock time to the millisecond.
const ClockLayout = "15:04:05.000"
