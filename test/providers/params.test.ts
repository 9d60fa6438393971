import { describe, expect, it } from 'vitest';
import { optionalParams, requiredParams, validateDialParams } from '../../src/providers/params.js';

const PLAYVOICE = { voicetype: '2', voicefile: 'wwww.baidu.com/test.mp3', chengshudu: '1', userid: '1@extGroup-1' };
const MAKECALL = { extnumber: '20280003' };
const DOUBLECALL = { extnumber: '20280003', anumber: '13800000000' };
const ORIGINATE = { caller: '557', context: 'main_routing', caller_id: '557' };

describe('required and optional params', () => {
  it('lists what each action takes from the campaign', () => {
    expect(requiredParams('playvoice')).toEqual(['voicetype', 'voicefile', 'chengshudu', 'userid']);
    expect(optionalParams('playvoice')).toEqual(['disnumber']);
    expect(requiredParams('makecall')).toEqual(['extnumber']);
    expect(optionalParams('makecall')).toEqual(['disnumber', 'userid', 'chengshudu', 'memberid']);
    expect(requiredParams('doublecall')).toEqual(['extnumber', 'anumber']);
    expect(optionalParams('doublecall')).toEqual(['disnumber', 'userid', 'memberid', 'chengshudu']);
    expect(requiredParams('originate')).toEqual(['caller', 'context', 'caller_id']);
    expect(optionalParams('originate')).toEqual(['trunk_name', 'timeout']);
  });
});

describe('validateDialParams', () => {
  it('accepts complete params for each action', () => {
    expect(validateDialParams('playvoice', PLAYVOICE)).toEqual([]);
    expect(validateDialParams('playvoice', { ...PLAYVOICE, voicetype: '1', disnumber: '' })).toEqual([]);
    expect(validateDialParams('makecall', { ...MAKECALL, disnumber: '2190170001', userid: '7', chengshudu: '0', memberid: '9' })).toEqual([]);
    expect(validateDialParams('doublecall', DOUBLECALL)).toEqual([]);
    expect(validateDialParams('originate', { ...ORIGINATE, trunk_name: 'cisco', timeout: '30' })).toEqual([]);
  });

  it('playvoice: each missing field is named with what to set', () => {
    expect(validateDialParams('playvoice', {})).toEqual([
      'playvoice needs --param voicetype=1|2',
      'playvoice needs --param voicefile=<file name or URL>',
      'playvoice needs --param chengshudu=1',
      'playvoice needs --param userid=1@extGroup-1',
    ]);
    expect(validateDialParams('playvoice', { ...PLAYVOICE, voicefile: '  ' })).toEqual(['playvoice needs --param voicefile=<file name or URL>']);
  });

  it('playvoice: voicetype must be 1 or 2, userid a key-to-group rule', () => {
    const [vt] = validateDialParams('playvoice', { ...PLAYVOICE, voicetype: '3' });
    expect(vt).toMatch(/voicetype must be 1 .* or 2/);
    const [uid] = validateDialParams('playvoice', { ...PLAYVOICE, userid: 'extGroup-1' });
    expect(uid).toMatch(/userid must be a key-to-group rule such as 1@extGroup-1/);
    expect(validateDialParams('playvoice', { ...PLAYVOICE, userid: '1@extGroup-1,2@sales' })).toEqual([]);
    // userid is free custom data for makecall.
    expect(validateDialParams('makecall', { ...MAKECALL, userid: 'employee 7' })).toEqual([]);
  });

  it('makecall and doublecall: required extension and agent phone', () => {
    expect(validateDialParams('makecall', {})).toEqual(['makecall needs --param extnumber=<extension>']);
    expect(validateDialParams('doublecall', { extnumber: '1' })).toEqual(['doublecall needs --param anumber=<agent phone>']);
  });

  it('originate: required caller, context, caller_id; timeout in whole seconds', () => {
    expect(validateDialParams('originate', {})).toEqual([
      'originate needs --param caller=<first party>',
      'originate needs --param context=main_routing',
      'originate needs --param caller_id=<caller id>',
    ]);
    expect(validateDialParams('originate', { ...ORIGINATE, timeout: 'thirty' })[0]).toMatch(/timeout must be a whole number of seconds/);
    expect(validateDialParams('originate', { ...ORIGINATE, timeout: '0' })[0]).toMatch(/between 1 and 3600/);
    expect(validateDialParams('originate', { ...ORIGINATE, trunk_name: '' })).toEqual([]);
  });

  it('reports params the action does not take, saying what it takes', () => {
    const [p] = validateDialParams('makecall', { ...MAKECALL, voicefile: 'x.wav' });
    expect(p).toBe('makecall does not take --param voicefile: remove it (it takes extnumber, disnumber, userid, chengshudu, memberid)');
    expect(validateDialParams('originate', { ...ORIGINATE, bnumber: '1' })[0]).toMatch(/originate does not take --param bnumber/);
  });

  it('reports params the dialer sets itself', () => {
    expect(validateDialParams('playvoice', { ...PLAYVOICE, destnumber: '1' })).toEqual([
      "playvoice --param destnumber is set by the dialer (the contact's number): remove it",
    ]);
    expect(validateDialParams('doublecall', { ...DOUBLECALL, bnumber: '1', customuuid: 'x' })).toEqual([
      "doublecall --param bnumber is set by the dialer (the contact's number): remove it",
      'doublecall --param customuuid is set by the dialer (the attempt id): remove it',
    ]);
    expect(validateDialParams('makecall', { ...MAKECALL, token: 'x', service: 'y' })).toHaveLength(2);
    expect(validateDialParams('originate', { ...ORIGINATE, callee: '552' })[0]).toMatch(/callee is set by the dialer/);
    expect(validateDialParams('makecall', { ...MAKECALL, toString: 'x' })[0]).toMatch(/does not take --param toString/);
  });

  it('refuses control characters and line breaks in values', () => {
    expect(validateDialParams('makecall', { extnumber: '1\r\nX' })[0]).toMatch(/extnumber must not contain control characters/);
  });

  it('lenient (dial time) ignores unknown and dialer-set params but still checks the rest', () => {
    expect(validateDialParams('makecall', { ...MAKECALL, name: 'Li', customuuid: 'x', destnumber: 'y' }, { lenient: true })).toEqual([]);
    expect(validateDialParams('playvoice', { ...PLAYVOICE, voicetype: '9', name: 'Li' }, { lenient: true })).toHaveLength(1);
    expect(validateDialParams('originate', { name: 'Li' }, { lenient: true })).toHaveLength(3);
  });
});
