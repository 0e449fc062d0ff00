// lib.js: Preact with htm's tagged templates (no build step: html`<p>${x}</p>`).
import { h, render, Component, Fragment } from 'preact';
import { useState, useEffect, useRef, useMemo, useCallback, useLayoutEffect } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);
export { h, render, Component, Fragment, useState, useEffect, useRef, useMemo, useCallback, useLayoutEffect };
