import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeGroup {
  minSize: number;
  maxSize: number;
  desired: number;
  instances: Array<{ id: string; state: string }>;
  /** What SetDesiredCapacity enforces, when it differs from what Describe reports (MaxSize lowered meanwhile). */
  enforcedMaxSize?: number;
}

export interface RecordedCall {
  action: string;
  params: Record<string, string>;
  contentType: string | undefined;
  signed: boolean;
}

interface Scripted {
  status: number;
  code: string;
  message: string;
}

const XMLNS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A local stand-in for the EC2 Auto Scaling Query API on 127.0.0.1: form-encoded
 * `Action=DescribeAutoScalingGroups` / `Action=SetDesiredCapacity` in, XML out,
 * `<ErrorResponse><Error><Code>…` for errors. Tests script failures and hold
 * requests.
 */
export class FakeAutoScaling {
  readonly groups = new Map<string, FakeGroup>();
  readonly calls: RecordedCall[] = [];
  private readonly scripts = new Map<string, Scripted[]>();
  private readonly gates = new Map<string, Array<Promise<void>>>();
  private readonly releases: Array<() => void> = [];
  private readonly server = createServer((req, res) => void this.handle(req, res));
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const r of this.releases) r();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  failNext(action: string, status: number, code: string, message = `${code} (scripted)`): void {
    this.scripts.set(action, [...(this.scripts.get(action) ?? []), { status, code, message }]);
  }

  holdNext(action: string): () => void {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    this.gates.set(action, [...(this.gates.get(action) ?? []), gate]);
    this.releases.push(release);
    return release;
  }

  count(action: string): number {
    return this.calls.filter((c) => c.action === action).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const action = params.Action ?? '';
    this.calls.push({ action, params, contentType: req.headers['content-type'], signed: String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256') });
    const gate = this.gates.get(action)?.shift();
    if (gate) await gate;
    const scripted = this.scripts.get(action)?.shift();
    if (scripted) return this.error(res, scripted.status, scripted.code, scripted.message);
    if (params.Version !== '2011-01-01') return this.error(res, 400, 'InvalidAction', 'bad version');
    if (action === 'DescribeAutoScalingGroups') return this.describe(res, params);
    if (action === 'SetDesiredCapacity') return this.setDesired(res, params);
    return this.error(res, 400, 'InvalidAction', `unknown action ${action}`);
  }

  private describe(res: ServerResponse, params: Record<string, string>): void {
    const names = Object.entries(params)
      .filter(([k]) => k.startsWith('AutoScalingGroupNames.member.'))
      .map(([, v]) => v);
    const members = names
      .map((name) => [name, this.groups.get(name)] as const)
      .filter((x): x is readonly [string, FakeGroup] => x[1] !== undefined)
      .map(
        ([name, g]) => `<member>
        <AutoScalingGroupName>${esc(name)}</AutoScalingGroupName>
        <AutoScalingGroupARN>arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid:autoScalingGroupName/${esc(name)}</AutoScalingGroupARN>
        <MinSize>${g.minSize}</MinSize><MaxSize>${g.maxSize}</MaxSize><DesiredCapacity>${g.desired}</DesiredCapacity>
        <DefaultCooldown>300</DefaultCooldown>
        <AvailabilityZones><member>us-east-1a</member></AvailabilityZones>
        <HealthCheckType>EC2</HealthCheckType>
        <CreatedTime>2024-01-01T00:00:00.000Z</CreatedTime>
        <Instances>${g.instances
          .map(
            (i) =>
              `<member><InstanceId>${i.id}</InstanceId><AvailabilityZone>us-east-1a</AvailabilityZone><LifecycleState>${i.state}</LifecycleState><HealthStatus>Healthy</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>`,
          )
          .join('')}</Instances>
      </member>`,
      )
      .join('');
    this.xml(
      res,
      `<DescribeAutoScalingGroupsResponse xmlns="${XMLNS}"><DescribeAutoScalingGroupsResult><AutoScalingGroups>${members}</AutoScalingGroups></DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>req-${this.calls.length}</RequestId></ResponseMetadata></DescribeAutoScalingGroupsResponse>`,
    );
  }

  private setDesired(res: ServerResponse, params: Record<string, string>): void {
    const name = params.AutoScalingGroupName ?? '';
    const g = this.groups.get(name);
    if (!g) return this.error(res, 400, 'ValidationError', 'AutoScalingGroup name not found - null');
    const n = Number(params.DesiredCapacity);
    const max = g.enforcedMaxSize ?? g.maxSize;
    if (n > max) return this.error(res, 400, 'ValidationError', `New SetDesiredCapacity value ${n} is above max value ${max} for the AutoScalingGroup.`);
    if (n < g.minSize) return this.error(res, 400, 'ValidationError', `New SetDesiredCapacity value ${n} is below min value ${g.minSize} for the AutoScalingGroup.`);
    g.desired = n;
    this.xml(res, `<SetDesiredCapacityResponse xmlns="${XMLNS}"><ResponseMetadata><RequestId>req-${this.calls.length}</RequestId></ResponseMetadata></SetDesiredCapacityResponse>`);
  }

  private xml(res: ServerResponse, body: string, status = 200): void {
    res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': `req-${this.calls.length}` });
    res.end(body);
  }

  private error(res: ServerResponse, status: number, code: string, message: string): void {
    const type = status >= 500 ? 'Receiver' : 'Sender';
    this.xml(
      res,
      `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${esc(message)}</Message></Error><RequestId>req-${this.calls.length}</RequestId></ErrorResponse>`,
      status,
    );
  }
}
