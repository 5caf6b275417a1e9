// The minimal Koa app doing the same job (issue #24's peer): koa, @koa/router, koa-bodyparser
// (JSON whatever the Content-Type), one compiled TypeBox check of the member-exit body, the same
// lines and the same group-commit append as the baseline (bench/peer-append.mjs). No signatures,
// no source or app checks, no metrics, no error table: the framework's floor for this job.
import Koa from 'koa';
import { Router } from '@koa/router';
import bodyParser from 'koa-bodyparser';
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import http from 'node:http';
import { appender, linesOf, serve } from './peer-append.mjs';

const Body = Compile(
  Type.Object({
    CallbackCommand: Type.Literal('Group.CallbackAfterMemberExit'),
    GroupId: Type.String({ minLength: 1, maxLength: 128 }),
    Type: Type.String({ minLength: 1, maxLength: 32 }),
    ExitType: Type.Union([Type.Literal('Kicked'), Type.Literal('Quit')]),
    Operator_Account: Type.String({ maxLength: 64 }),
    ExitMemberList: Type.Array(Type.Object({ Member_Account: Type.String({ minLength: 1, maxLength: 64 }) }), { minItems: 1, maxItems: 10000 }),
    EventTime: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]{1,15}$' })])),
  }),
);
const OK = Buffer.from('{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}');
const out = appender();

const app = new Koa();
const router = new Router();
router.post('/', bodyParser({ enableTypes: ['json'], jsonLimit: '1mb', detectJSON: () => true }), async (ctx) => {
  const receivedAt = Date.now();
  const body = ctx.request.body;
  if (!Body.Check(body)) {
    ctx.status = 400;
    ctx.body = { ActionStatus: 'FAIL', ErrorCode: 40003 };
    return;
  }
  await out.append(linesOf(new URLSearchParams(ctx.querystring), body, receivedAt));
  ctx.type = 'application/json';
  ctx.body = OK;
});
app.use(router.routes());
serve(http.createServer(app.callback()), out);
