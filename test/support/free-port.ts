// The tests' free port is the library's (drills start restored servers on one too).
export { freePort } from '../../src/util/free-port.js';
