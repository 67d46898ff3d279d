import { servingMasterPorts } from './redis-cluster';

describe('servingMasterPorts', () => {
  // CLUSTER NODES as the node on 7000 answers it after 7001 was killed and 7004 took over its slots.
  const reply = [
    'a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460',
    'b2 127.0.0.1:7001@17001 master,fail - 1700000000000 1700000000000 2 disconnected',
    'c3 127.0.0.1:7002@17002 master - 0 1700000000000 3 connected 10923-16383',
    'd4 127.0.0.1:7003@17003 slave a1 0 1700000000000 1 connected',
    'e5 127.0.0.1:7004@17004,node-e master - 0 1700000000000 7 connected 5461-10922',
    'f6 127.0.0.1:7005@17005 slave c3 0 1700000000000 3 connected',
    '',
  ].join('\n');

  it('lists every master serving slots, the answering one (myself,master) included', () => {
    expect(servingMasterPorts(reply)).toEqual([7000, 7002, 7004]);
  });

  it('keeps a master only suspected (fail?) and drops one whose failure is decided (fail)', () => {
    const suspected = reply.replace('127.0.0.1:7002@17002 master -', '127.0.0.1:7002@17002 master,fail? -');
    expect(servingMasterPorts(suspected)).toEqual([7000, 7002, 7004]);
    const failed = reply.replace('127.0.0.1:7002@17002 master - 0 1700000000000 3 connected 10923-16383', '127.0.0.1:7002@17002 master,fail - 0 1700000000000 3 disconnected');
    expect(servingMasterPorts(failed)).toEqual([7000, 7004]);
  });
});
