import { startExpress, startFastify, startNode, startWeb } from './apps.js';
import { adapterSuite } from './suite.js';

adapterSuite('express', startExpress);
adapterSuite('fastify', startFastify);
adapterSuite('node:http', startNode);
adapterSuite('web (Request/Response)', startWeb);
